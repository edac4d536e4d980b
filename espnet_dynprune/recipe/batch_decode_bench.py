"""Recipe decoding configurations side by side: seconds per utterance, accuracy, same hypotheses.

What stage 12 runs (``recipe.decode``'s per-utterance or batched path, each part at its precision)
on a test set's real audio: the first ``utts`` utterances under each ``--configs`` entry
``BATCH:ENCODER:DECODER`` (e.g. ``8:fp32:int8``; one model loaded per precision pair),
round-robin in one process (``analysis.clock``: warm-up rounds, then ``repeats`` rounds; medians). It prints each configuration's seconds per utterance, its ratio to
the first configuration, the test set's metric on those utterances (WER or BLEU) and whether every
hypothesis equals the first configuration's: how to choose the recipe's ``batch_size`` and
precisions.

``python -m espnet_dynprune.bin.bench experiment --data_dir dump/raw/test_epst_fra_asr
--s2t_train_config exp/X/config.yaml --s2t_model_file exp/X/valid.acc.ave.pth --configs 1:fp32:fp32 8:fp32:fp32``
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import torch

from espnet_dynprune.analysis.clock import now, round_robin
from espnet_dynprune.analysis.scoring import normalise_task, read_references, score
from espnet_dynprune.inference.precision import DecodeConfig, config_name
from espnet_dynprune.owsm.datadir import context_of, read_map
from espnet_dynprune.recipe.decode import _read_speech, decode_records, load_speech2text, parse_gates


def _decode_all(s2t, speeches: List, lang: str, task: str, batch_size: int) -> List[str]:
    return [r["text"] for i in range(0, len(speeches), batch_size)
            for r in decode_records(s2t, speeches[i:i + batch_size], lang, task, batch_size > 1)]


def bench_configs(data_dir: Path, s2t_train_config: Path, s2t_model_file: Path, configs: Sequence[DecodeConfig],
                  utts: int = 16, repeats: int = 3, warmup: int = 1, beam_size: int = 5, gates: str = "predicted",
                  device: str = "cpu") -> Dict[str, dict]:
    """Per configuration: median seconds per utterance, ratio to the first, metric, same hypotheses."""
    from espnet2.fileio.sound_scp import SoundScpReader

    ngpu = int(torch.device(device).type == "cuda")
    models = {(e, d): load_speech2text(s2t_train_config, s2t_model_file, beam_size=beam_size, ngpu=ngpu,
                                       gates=parse_gates(gates), encoder_precision=e, decoder_precision=d)
              for _, e, d in configs}
    lang, task = context_of(data_dir, None, None)
    wav_scp = data_dir / "wav.scp"
    reader = SoundScpReader(str(wav_scp), dtype="float32")
    keys = sorted(read_map(wav_scp), key=lambda k: k.encode("utf-8"))[:utts]
    rate = int(next(iter(models.values())).preprocessor_conf["fs"])
    speeches = [_read_speech(reader, k, wav_scp, rate) for k in keys]
    refs = read_references(data_dir / "text")
    texts: Dict[DecodeConfig, List[str]] = {}

    def run(c: DecodeConfig) -> Dict[str, float]:
        start = now(device)
        texts[c] = _decode_all(models[c[1:]], speeches, lang, task, c[0])
        return {"per_utt": (now(device) - start) / len(speeches)}

    timed = round_robin(list(configs), run, repeats, warmup)
    first, base = configs[0], timed[configs[0]].median("per_utt")
    metric = "wer" if normalise_task(task) == "asr" else "bleu"
    return {config_name(c): {"seconds_per_utt": s.median("per_utt"), "ratio": s.median("per_utt") / base,
                             metric: score(task, texts[c], [refs[k] for k in keys])[metric],
                             "same_hypotheses": texts[c] == texts[first], "utts": len(speeches)}
            for c, s in timed.items()}


def markdown(results: Dict[str, dict]) -> str:
    first = next(iter(results))
    metric = next(k for k in ("wer", "bleu") if k in results[first])
    lines = [f"| batch:encoder:decoder | s/utt | time vs {first} | {metric.upper()} | same hypotheses |",
             "|---|---|---|---|---|"]
    lines += [f"| {c} | {r['seconds_per_utt']:.4f} | {r['ratio']:.2f} | {r[metric]:.2f} | "
              f"{'yes' if r['same_hypotheses'] else 'no'} |" for c, r in results.items()]
    return "\n".join(lines) + "\n"
