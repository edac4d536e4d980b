"""Recipe stage 12: decode test sets (one language x task each) with ESPnet's Speech2Text.

``python -m espnet_dynprune.recipe.decode --data_dir dump/raw/test_epst_fra_asr
--s2t_train_config exp/X/config.yaml --s2t_model_file exp/X/valid.acc.ave.pth
--gates predicted --output_dir exp/X/decode_<tag>/test_epst_fra_asr --nj 4 --job J``

Several ``--data_dir`` with as many ``--output_dir`` decode shard J of each set in one
process, loading ESPnet and the model once (seconds per process on a CPU).

Why our own stage instead of ``espnet2.bin.s2t_inference``: each utterance needs
its wall-clock time and its gate decisions (which modules ran), and a gate
pattern may be forced (``--gates on|off|<sparsity>|<pattern.json>``) for ablations. Utterances
are sorted (C locale) and split into ``nj`` contiguous shards; shard J writes
``output_dir/logdir/output.J/{text,token,time,gates.jsonl}`` and then ``done``
(holding the settings), so a re-run skips finished shards and refuses to mix
shards decoded with other settings. ``--merge true`` concatenates the shards
into ``output_dir/{text,token,time,gates.jsonl}`` and writes
``decode_summary.json`` (the test set's ``data_dir``, timing, sparsity, the weight
sparsity of a magnitude-pruned model as it decoded (each shard's ``weights.json``) and
the settings, ``lang_sym``/``task_sym`` included: what stage 13 scores by). With
neither ``--job`` nor ``--merge``, every shard is decoded here, one after the
other, and merged.

``text`` holds the hypothesis without control tokens; ``token`` the tokens
after ``<sos>`` (``<lang> <task> <notimestamps> ...``). In ``gates.jsonl`` the
decoder's decisions are those of the last beam-search step for the first
hypothesis: the decoder decides from the encoder output and the ``<lang><task>``
prompt, which are the same for every hypothesis and step. ``margins`` holds each predicted gate's
keep minus skip logit (how far the decision is from flipping). ``decoder_calls`` lists
the beam search's decoder calls (``[hypotheses, prefix length, cached]``) for
counting FLOPs as run.

``--batch_size N`` (or ``batch_size:`` in the ``--config`` YAML) decodes N utterances of a shard
at once through ``Speech2Text.batch_decode``: the same hypotheses, with each batch's time and
decoder calls shared out over its utterances (:mod:`espnet_dynprune.recipe.utterance_records`).
``--encoder_batch_size M`` encodes them M at a time (default: all N at once) and still decodes
the N together: on a CPU, OWSM-size encoders run faster one utterance at a time.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import torch
from espnet2.utils.config_argparse import ArgumentParser
from espnet2.utils.types import int_or_none, str2bool

from espnet_dynprune.analysis.gate_patterns import Pattern, read_pattern
from espnet_dynprune.inference.precision import PRECISIONS, apply_precision
from espnet_dynprune.logs import configure_logging
from espnet_dynprune.nets.checkpoint import checkpoint_size
from espnet_dynprune.owsm.datadir import audio_sha1, context_of, files_sha1, read_map, stat_sha1
from espnet_dynprune.recipe.utterance_records import decode_utterance, decode_utterances

PathLike = Union[str, Path]
GateSpec = Union[None, str, float, Pattern]
INPUTS = "inputs"  # the settings key of what a decode was made from
SHARD_FILES = ("text", "token", "time", "gates.jsonl")
WEIGHTS = "weights.json"  # a shard's model as loaded: weight sparsity per magnitude-pruned part
#: Settings added after shards were first written, and the value those shards were decoded with.
LATER_SETTINGS = {"batch_size": 1, "encoder_precision": "fp32", "decoder_precision": "fp32",
                  "encoder_batch_size": None}


def parse_gates(value: str) -> GateSpec:
    """``predicted`` -> None (the predictor decides), ``on``/``off``, a float sparsity in [0, 1],
    or ``FILE.json``: one fixed pattern per part (:mod:`espnet_dynprune.analysis.gate_patterns`)."""
    if value in ("predicted", "on", "off"):
        return None if value == "predicted" else value
    if value.endswith(".json"):
        return read_pattern(value)
    try:
        sparsity = float(value)
    except ValueError:
        sparsity = -1.0
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"--gates {value!r} must be predicted, on, off, a sparsity in [0, 1] or a pattern .json")
    return sparsity


def shard(keys: Sequence[str], nj: int, job: int) -> List[str]:
    """Shard ``job`` (1-based) of ``nj`` contiguous, near-equal shards of the C-sorted keys."""
    if nj < 1 or not 1 <= job <= nj:
        raise ValueError(f"--job {job} must be in 1..--nj {nj}")
    ordered = sorted(keys, key=lambda k: k.encode("utf-8"))
    size, extra = divmod(len(ordered), nj)
    start = (job - 1) * size + min(job - 1, extra)
    return ordered[start:start + size + (job <= extra)]


def load_speech2text(s2t_train_config: PathLike, s2t_model_file: PathLike, beam_size: int = 5,
                     ctc_weight: float = 0.0, maxlenratio: float = 0.0, minlenratio: float = 0.0,
                     ngpu: int = 0, gates: GateSpec = None, encoder_precision: str = "fp32",
                     decoder_precision: str = "fp32"):
    """ESPnet's Speech2Text (the plugin's context-aware one) with the gate pattern and each part's
    precision (:mod:`espnet_dynprune.inference.precision`) applied."""
    from espnet2.bin.s2t_inference import Speech2Text

    from espnet_dynprune.registration import register_all

    register_all()
    s2t = Speech2Text(
        s2t_train_config=str(s2t_train_config), s2t_model_file=str(s2t_model_file),
        device="cuda" if ngpu > 0 else "cpu", beam_size=beam_size, ctc_weight=ctc_weight,
        maxlenratio=maxlenratio, minlenratio=minlenratio, nbest=1,
    )
    force_gates(s2t.s2t_model, gates, s2t_train_config)
    apply_precision(s2t, encoder_precision, decoder_precision)
    return s2t


class LazySpeech2Text:
    """:func:`load_speech2text` on first use: a resumed run whose shards are all done loads nothing,
    and the test sets of one process share one model."""

    def __init__(self, num_threads: int = 1, **kwargs) -> None:
        self.num_threads, self.kwargs, self.s2t = num_threads, kwargs, None

    def get(self):
        if self.s2t is None:
            torch.set_num_threads(self.num_threads)
            self.s2t = load_speech2text(**self.kwargs)
        return self.s2t


def force_gates(model, gates: GateSpec, where: PathLike = "the model") -> None:
    """Force ``gates`` on a dynprune model; a stock model only runs dense (None or ``on``).
    A pattern must name exactly the model's gated parts and each part's gates."""
    if isinstance(gates, dict) and hasattr(model, "gated_parts"):
        parts = model.gated_parts()
        if set(gates) != set(parts):
            raise ValueError(f"the gate pattern has parts {sorted(gates)}; {where} has gated parts {sorted(parts)}")
        for name, part in parts.items():
            if set(gates[name]) != set(part.gate_names):
                raise ValueError(f"the gate pattern's {name} gates {sorted(gates[name])} are not the gates of "
                                 f"{where}'s {name}: {list(part.gate_names)}")
            model.force_gates(torch.tensor([gates[name][g] for g in part.gate_names]), part=name)
    elif hasattr(model, "force_gates"):
        model.force_gates(gates)
    elif gates not in (None, "on"):
        raise ValueError(f"--gates {gates} needs a dynprune model; {where} builds {type(model).__name__}")


def _read_speech(reader, utt: str, wav_scp: Path, rate: int):
    got, audio = reader[utt]
    if got != rate:
        raise ValueError(f"{wav_scp}: {utt} has sample rate {got}, the model expects {rate}")
    if audio.ndim != 1:
        raise ValueError(f"{wav_scp}: {utt} has {audio.shape[1]} channels; only mono is supported")
    return audio


def _check_done(done: Path, settings: dict) -> bool:
    """Whether the shard of ``done`` is done with these settings AND inputs.

    Other settings (beam, gates, ...) raise: mixing them in one output dir is a mistake. Other
    inputs (the model file, its config, the test set's files or audio) mean the shard is stale:
    it is decoded again.
    """
    if not done.exists():
        return False
    old = json.loads(done.read_text(encoding="utf-8"))
    diff = {k: (old.get(k, LATER_SETTINGS.get(k)), v) for k, v in settings.items()
            if k != INPUTS and old.get(k, LATER_SETTINGS.get(k)) != v}
    if diff:
        raise ValueError(f"{done} was decoded with other settings {diff} (old, new); remove "
                         f"{done.parent} or decode into another --output_dir")
    changed = sorted(k for k, v in settings[INPUTS].items() if old.get(INPUTS, {}).get(k) != v)
    if changed:
        logging.info(f"{done.parent} was decoded from other inputs (changed: {', '.join(changed)}); decoding it again")
        return False
    return True


def input_fingerprints(data_dir: Path, s2t_train_config: PathLike, s2t_model_file: PathLike) -> Dict[str, str]:
    """What a decode is made from, to tell a stale one: model file (size, mtime), config and
    test-set files (content), test-set audio (sizes, mtimes)."""
    return {"model": stat_sha1([Path(s2t_model_file).resolve()]), "config": files_sha1([s2t_train_config]),
            "data": files_sha1(data_dir / name for name in ("wav.scp", "text")), "audio": audio_sha1(data_dir)}


def decode_records(s2t, speeches: Sequence, lang_sym: str, task_sym: str, batched: bool,
                   encoder_batch_size: Optional[int] = None) -> List[dict]:
    """One record per waveform: through ESPnet's beam search one at a time, or ``batched`` together
    (encoded ``encoder_batch_size`` at a time; None: all at once)."""
    if batched:
        return decode_utterances(s2t, speeches, lang_sym, task_sym, encoder_batch_size)
    return [decode_utterance(s2t, speech, lang_sym, task_sym) for speech in speeches]


def decode_shard(s2t, data_dir: Path, output_dir: Path, settings: dict, job: int, warmup: int = 1) -> Path:
    """Decode shard ``job`` into ``output_dir/logdir/output.{job}``, unless it is done; with
    ``settings["batch_size"]`` > 1 that many utterances at a time."""
    from espnet2.fileio.sound_scp import SoundScpReader

    out = output_dir / "logdir" / f"output.{job}"
    if _check_done(out / "done", settings):
        logging.info(f"{out} is done; skipping")
        return out
    wav_scp = data_dir / "wav.scp"
    reader = SoundScpReader(str(wav_scp), dtype="float32")
    utts = shard(list(reader.keys()), settings["nj"], job)
    rate = int(s2t.preprocessor_conf["fs"])
    lang, task, size = settings["lang_sym"], settings["task_sym"], settings["batch_size"]
    batches = [utts[i:i + size] for i in range(0, len(utts), size)]

    def run(batch: List[str]) -> List[dict]:
        return decode_records(s2t, [_read_speech(reader, utt, wav_scp, rate) for utt in batch], lang, task, size > 1,
                              settings["encoder_batch_size"])

    for _ in range(warmup if utts else 0):  # first calls pay one-off set-up costs; keep them out
        run(batches[0])
    out.mkdir(parents=True, exist_ok=True)
    files = {name: (out / name).open("w", encoding="utf-8") for name in SHARD_FILES}
    try:
        for batch in batches:
            for utt, result in zip(batch, run(batch), strict=True):
                files["text"].write(f"{utt} {result['text']}\n")
                files["token"].write(f"{utt} {' '.join(result['tokens'])}\n")
                files["time"].write(f"{utt} {result['seconds']:.6f}\n")
                record = {"utt": utt, **{k: result[k] for k in ("gates", "sparsity", "sparsity_flops", "margins",
                                                                "decoder_calls", "encoder_seconds")}}
                files["gates.jsonl"].write(json.dumps(record) + "\n")
    finally:
        for f in files.values():
            f.close()
    sparsity = getattr(s2t.s2t_model, "weight_sparsity", dict)()
    (out / WEIGHTS).write_text(json.dumps({"weight_sparsity": sparsity}) + "\n", encoding="utf-8")
    (out / "done").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    logging.info(f"decoded {len(utts)} utterances of {data_dir} into {out}")
    return out


def _mean(values: List[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def merge_shards(data_dir: Path, output_dir: Path, settings: dict) -> dict:
    """Concatenate every shard (sorted by utt) and write ``decode_summary.json``."""
    shards = [output_dir / "logdir" / f"output.{j}" for j in range(1, settings["nj"] + 1)]
    missing = [str(s) for s in shards if not s.joinpath("done").exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(shards)} shards are not done: {missing}")
    stale = [str(s) for s in shards if not _check_done(s / "done", settings)]
    if stale:
        raise ValueError(f"{len(stale)} of {len(shards)} shards were decoded from other inputs (model, config or "
                         f"test set changed since): decode them again before merging: {stale}")
    merged: Dict[str, Dict[str, str]] = {name: {} for name in ("text", "token", "time")}
    records: Dict[str, dict] = {}
    for s in shards:
        for name in merged:
            merged[name].update(read_map(s / name))
        with (s / "gates.jsonl").open(encoding="utf-8") as f:
            records.update((r["utt"], r) for r in map(json.loads, f))
    expected = set(read_map(data_dir / "wav.scp"))
    absent = sorted(expected - set(merged["text"]))
    if absent or len(records) != len(merged["text"]):
        raise ValueError(f"the shards in {output_dir / 'logdir'} miss {len(absent)} utterances of "
                         f"{data_dir} (first: {absent[:3]}) or have inconsistent files")
    utts = sorted(merged["text"], key=lambda k: k.encode("utf-8"))
    for name, values in merged.items():
        (output_dir / name).write_text("".join(f"{u} {values[u]}\n" for u in utts), encoding="utf-8")
    (output_dir / "gates.jsonl").write_text("".join(json.dumps(records[u]) + "\n" for u in utts), encoding="utf-8")
    seconds = [float(merged["time"][u]) for u in utts]
    encoder = [records[u]["encoder_seconds"] for u in utts if "encoder_seconds" in records[u]]
    # every shard loaded the same model; shards decoded before weights.json existed have none
    weights = next((s / WEIGHTS for s in shards if (s / WEIGHTS).is_file()), None)
    parts = sorted({p for r in records.values() for p in r["sparsity"]})
    summary = {
        "data_dir": str(data_dir.resolve()),
        "num_utts": len(utts),
        "seconds_per_utt": _mean(seconds),
        "encoder_seconds_per_utt": _mean(encoder) if len(encoder) == len(utts) else None,
        "decoder_seconds_per_utt": _mean(seconds) - _mean(encoder) if encoder and len(encoder) == len(utts) else None,
        "total_seconds": sum(seconds),
        "seconds_per_utt_is": ("measured per utterance" if settings["batch_size"] == 1 else
                               f"amortised: each batch of up to {settings['batch_size']} utterances' "
                               f"seconds shared evenly"),
        "model": checkpoint_size(settings["s2t_model_file"]),
        "sparsity": {p: _mean([r["sparsity"][p] for r in records.values() if p in r["sparsity"]]) for p in parts},
        "sparsity_flops": {p: _mean([r["sparsity_flops"][p] for r in records.values()
                                     if p in r["sparsity_flops"]]) for p in parts},
        "weight_sparsity": json.loads(weights.read_text(encoding="utf-8"))["weight_sparsity"] if weights else {},
        "settings": settings,
    }
    (output_dir / "decode_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def decode(
    data_dir: PathLike,
    output_dir: PathLike,
    s2t_train_config: PathLike,
    s2t_model_file: PathLike,
    lang_sym: Optional[str] = None,
    task_sym: Optional[str] = None,
    beam_size: int = 5,
    ctc_weight: float = 0.0,
    maxlenratio: float = 0.0,
    minlenratio: float = 0.0,
    gates: str = "predicted",
    nj: int = 1,
    job: Optional[int] = None,
    merge: bool = False,
    ngpu: int = 0,
    num_threads: int = 1,
    warmup: int = 1,
    batch_size: int = 1,
    encoder_batch_size: Optional[int] = None,
    encoder_precision: str = "fp32",
    decoder_precision: str = "fp32",
    model: Optional[LazySpeech2Text] = None,
) -> Optional[dict]:
    """Decode shard ``job``, or merge (``merge``), or decode everything and merge (neither).

    Returns the decode summary when it merges, else None. ``model`` shares one loaded model
    between calls with the same model options.
    """
    if merge and job is not None:
        raise ValueError("--merge true and --job are exclusive: decode the shards first, then merge")
    if batch_size < 1:
        raise ValueError(f"--batch_size {batch_size} must be >= 1")
    if encoder_batch_size is not None and encoder_batch_size < 1:
        raise ValueError(f"--encoder_batch_size {encoder_batch_size} must be >= 1 (or none: the whole batch)")
    data_dir, output_dir = Path(data_dir), Path(output_dir)
    lang, task = context_of(data_dir, lang_sym, task_sym)
    spec = parse_gates(gates)
    settings = {"gates": spec if isinstance(spec, dict) else gates, "beam_size": beam_size,
                "ctc_weight": ctc_weight, "maxlenratio": maxlenratio, "minlenratio": minlenratio,
                "lang_sym": lang, "task_sym": task, "nj": nj, "batch_size": batch_size,
                "encoder_batch_size": encoder_batch_size,
                "encoder_precision": encoder_precision, "decoder_precision": decoder_precision,
                "s2t_train_config": str(Path(s2t_train_config).resolve()),
                "s2t_model_file": str(Path(s2t_model_file).resolve()),
                INPUTS: input_fingerprints(data_dir, s2t_train_config, s2t_model_file)}
    if job is not None:
        shard(["x"], nj, job)  # validates job/nj before loading the model
    if not merge:
        jobs = [job] if job is not None else range(1, nj + 1)
        todo = [j for j in jobs if not _check_done(output_dir / "logdir" / f"output.{j}" / "done", settings)]
        if len(todo) < len(jobs):
            logging.info(f"{output_dir}: shard(s) {sorted(set(jobs) - set(todo))} are done; skipping them")
        if model is None:
            model = LazySpeech2Text(num_threads, s2t_train_config=s2t_train_config, s2t_model_file=s2t_model_file,
                                    beam_size=beam_size, ctc_weight=ctc_weight, maxlenratio=maxlenratio,
                                    minlenratio=minlenratio, ngpu=ngpu, gates=spec,
                                    encoder_precision=encoder_precision, decoder_precision=decoder_precision)
        for j in todo:  # a resumed run does not even load the model
            decode_shard(model.get(), data_dir, output_dir, settings, j, warmup)
        if job is not None:
            return None
    summary = merge_shards(data_dir, output_dir, settings)
    logging.info(f"{output_dir}: {summary['num_utts']} utts, {summary['seconds_per_utt']:.3f} s/utt, "
                 f"sparsity {summary['sparsity']}")
    return summary


def main(argv: Optional[Sequence[str]] = None) -> List[Optional[dict]]:
    """Decode (or merge) every ``--data_dir``; one summary (or None) per test set."""
    # ESPnet's parser: `--config decode.yaml` sets any of these options, as s2t_inference's does.
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", type=Path, nargs="+", required=True, help="OWSM dump dirs, one per test set")
    parser.add_argument("--output_dir", type=Path, nargs="+", required=True, help="one per --data_dir")
    parser.add_argument("--s2t_train_config", type=Path, required=True)
    parser.add_argument("--s2t_model_file", type=Path, required=True)
    parser.add_argument("--lang_sym", default=None, help="e.g. fra or <fra>; default: from data_dir/text")
    parser.add_argument("--task_sym", default=None, help="asr or st_eng; default: from data_dir/text")
    parser.add_argument("--beam_size", type=int, default=5)
    parser.add_argument("--ctc_weight", type=float, default=0.0, help="0 for ST (CTC learns the source)")
    parser.add_argument("--maxlenratio", type=float, default=0.0, help="0: end detection (ESPnet's default)")
    parser.add_argument("--minlenratio", type=float, default=0.0)
    parser.add_argument("--gates", default="predicted",
                        help="predicted, on, off, a sparsity in [0, 1] or a pattern file (gate_patterns)")
    parser.add_argument("--nj", type=int, default=1, help="number of shards")
    parser.add_argument("--job", type=int, default=None, help="1-based shard to decode (a JOB array)")
    parser.add_argument("--merge", type=str2bool, default=False, help="merge the finished shards")
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--num_threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--warmup", type=int, default=1, help="untimed decodes of a shard's first utt (batch)")
    parser.add_argument("--batch_size", type=int, default=1,
                        help="utterances decoded at once (decoder as the only scorer); times are then amortised")
    parser.add_argument("--encoder_batch_size", type=int_or_none, default=None,
                        help="of those, utterances per encoder call (none: all at once)")
    for part in ("encoder", "decoder"):
        parser.add_argument(f"--{part}_precision", default="fp32", choices=PRECISIONS,
                            help=f"the {part}'s weights: float32, bfloat16, or dynamic int8 Linear layers")
    args = vars(parser.parse_args(argv))
    args.pop("config")
    data_dirs, output_dirs = args.pop("data_dir"), args.pop("output_dir")
    if len(data_dirs) != len(output_dirs):
        parser.error(f"{len(data_dirs)} --data_dir but {len(output_dirs)} --output_dir: give one per test set")
    configure_logging()
    model = LazySpeech2Text(args["num_threads"], gates=parse_gates(args["gates"]), **{
        k: args[k] for k in ("s2t_train_config", "s2t_model_file", "beam_size", "ctc_weight", "maxlenratio",
                             "minlenratio", "ngpu", "encoder_precision", "decoder_precision")})  # fmt: skip
    return [decode(data_dir, output_dir, model=model, **args) for data_dir, output_dir in zip(data_dirs, output_dirs)]


if __name__ == "__main__":
    main()
