"""Recipe stage 12 for Whisper: decode test sets with ESPnet and with faster-whisper, side by side.

``python -m espnet_dynprune.recipe.whisper_decode --model_dir exp/whisper_base --test_dirs
dump/raw/test_asterisk_fra_st_eng ... --systems espnet,faster_whisper:float32,faster_whisper:int8``

``--model_dir`` is what :mod:`espnet_dynprune.bin.whisper_convert` wrote, or a statically pruned
Whisper (``bin.export_pruned --asr_train_config``: ``config.yaml`` with ``encoder: whisper_pruned``
and ``model.pth``; the ESPnet systems only). Every system decodes
the same 16 kHz audio, beam ``--beam_size``, the language and task of the test set given (read
from its OWSM ``text`` prefix: ``<fra><st_eng>`` -> ``<|fr|> <|translate|>``), no time stamps:

- ``espnet``: stock ESPnet, ``espnet2.bin.asr_inference.Speech2Text`` on the converted model
  (ESPnet's Whisper encoder/decoder and ``BatchBeamSearch``; ``maxlenratio 0``: ESPnet's end
  detection). ESPnet cannot both detect the end and cap the length, and a hypothesis that never
  ends runs past Whisper's 448 text positions and raises; such an utterance is decoded again
  with the length capped at ``--espnet_max_tokens`` (no end detection: slower), counted in
  ``timing.json`` as ``espnet_capped`` and logged;
- ``dynprune``: the same stock ``Speech2Text`` and search on the same model with two config keys
  swapped, ``encoder: whisper_dynprune`` and ``decoder: whisper_dynprune`` (``gate_predictor:
  none``: dense; this package's attention kernels and cached cross-attention and self-attention
  keys/values), written beside the model as ``config_dynprune.yaml``;
- ``espnet:N`` / ``dynprune:N``: the same, N utterances at a time through ESPnet's
  ``Speech2Text.batch_decode`` (ESPnet 202611: one encoder call and one multi-utterance beam search);
  a batch with a search that ran past 448 positions is decoded again one utterance at a time
  (counted in ``timing.json`` as ``batches_redone``). The seconds of a batch are shared out evenly
  over its utterances (``seconds_per_utt_is`` says so);
- ``...:whisper`` after either (``dynprune:8:whisper``): ESPnet's search with Whisper's stopping and
  ranking rules (:mod:`espnet_dynprune.inference.whisper_search`): not ESPnet's hypotheses any more;
- ``...:int8`` after either (``dynprune:8:whisper:int8``): the encoder's and decoder's linear layers
  (the decoder's vocabulary projection included) in dynamic int8
  (:func:`espnet_dynprune.inference.precision.set_precision`);
- ``faster_whisper:<compute_type>``: faster-whisper's ``WhisperModel`` on the CTranslate2 files the
  model was converted from (no VAD, temperature 0 without fallback, not conditioned on earlier
  text), ``float32`` or ``int8``.

Both get ``--threads`` CPU threads. Per system and test set it writes ``{out_dir}/{system}/{test}/
text`` (Kaldi ``utt hypothesis``) and ``timing.json`` (decode seconds of each utterance, audio
loaded before the clock starts); a finished pair holds ``.done`` with its arguments and is not
redone. ``--max_utts N`` decodes the first N utterances of each set (by id) for quick runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, ContextManager, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import yaml

from espnet_dynprune.analysis.whisper_results import system_dir
from espnet_dynprune.corpora.audio_io import decode
from espnet_dynprune.corpora.languages import from_iso639_3
from espnet_dynprune.inference.precision import set_precision
from espnet_dynprune.inference.whisper_search import use_whisper_search
from espnet_dynprune.logs import configure_logging
from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.owsm.symbols import OwsmTarget, parse_target

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
PCM16_SCALE = 32768.0  # the dump dirs hold 16-bit PCM, which audio_io.decode returns as int16
PRUNED_WEIGHTS = "model.pth"  # bin.export_pruned --asr_train_config writes it beside config.yaml
ESPNET = "espnet"
DYNPRUNE = "dynprune"
FASTER_WHISPER = "faster_whisper"
COMPUTE_TYPES = ("float32", "int8")
WHISPER_SEARCH = "whisper"
INT8 = "int8"
_WHISPER_TOKEN = re.compile(r"<\|[^|]*\|>")

Decoder = Callable[[np.ndarray], str]


def whisper_context(target: OwsmTarget, where: str) -> Tuple[str, str]:
    """``(language, task)`` in Whisper's terms (``fr``, ``translate``) of an OWSM target; a
    translation into anything but English raises."""
    if target.task not in ("asr", "st_eng"):
        raise ValueError(f"{where}: task <{target.task}>: Whisper transcribes (asr) or translates into English (st_eng)")
    return from_iso639_3(target.language), "transcribe" if target.task == "asr" else "translate"


def test_set_context(test_dir: Path) -> Tuple[str, str]:
    """``(language, task)`` of a test dir (:func:`whisper_context`); a set that mixes them raises."""
    contexts = {whisper_context(parse_target(line, f"{test_dir / 'text'}: {utt}"), str(test_dir))
                for utt, line in read_map(test_dir / "text").items()}
    if len(contexts) != 1:
        raise ValueError(f"{test_dir}: one language and task per test set expected, found {sorted(contexts)}")
    return contexts.pop()


class EspnetWhisper:
    """Stock ESPnet's ``Speech2Text`` for one language and task (see the module docstring);
    ``capped`` counts the utterances decoded again with the length cap."""

    def __init__(self, model_dir: Path, language: str, task: str, beam_size: int, max_tokens: int,
                 config: Optional[Path] = None, batch_size: int = 1, whisper_search: bool = False,
                 int8: bool = False) -> None:
        from espnet_dynprune.registration import register_asr

        register_asr()
        token_type = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))["token_type"]
        self.options: Dict[str, object] = {"ctc_weight": 0.0, "beam_size": beam_size, "nbest": 1}
        if token_type == "whisper_multilingual":
            self.options["lang_prompt_token"] = f"<|{language}|> <|{task}|>"
        elif (language, task) != ("en", "transcribe"):
            raise ValueError(f"{model_dir} is an English-only Whisper: it cannot {task} {language!r} speech")
        self.config, self.max_tokens, self.capped = str(config or model_dir / "config.yaml"), max_tokens, 0
        weights = model_dir / PRUNED_WEIGHTS  # a pruned model holds its weights; a converted one reads whisper_model
        self.model_file = str(weights) if weights.is_file() else None
        self.batch_size, self.batches_redone, self.whisper_search, self.int8 = batch_size, 0, whisper_search, int8
        self.prompt = (f"<|{language}|>", f"<|{task}|>")
        self.s2t = self._speech2text(maxlenratio=0.0)
        if batch_size > 1 and not hasattr(self.s2t, "batch_decode"):
            raise ValueError(f"batch size {batch_size}: this ESPnet's Speech2Text has no batch_decode "
                             f"(ESPnet 202611 has)")
        self.s2t_capped: Optional[Callable] = None

    def _speech2text(self, maxlenratio: float) -> Callable:
        from espnet2.bin.asr_inference import Speech2Text

        s2t = Speech2Text(self.config, self.model_file, maxlenratio=maxlenratio, **self.options)
        if self.whisper_search:
            use_whisper_search(s2t)
        if self.int8:
            for part in ("encoder", "decoder"):
                set_precision(getattr(s2t.asr_model, part), part, "int8")
        return s2t

    def _context(self, s2t: Callable) -> ContextManager:
        """A dynamically pruned model's encoder gates get the test set's language and task."""
        model = s2t.asr_model
        return model.inference_context(*self.prompt) if hasattr(model, "inference_context") else nullcontext()

    def __call__(self, speech: np.ndarray) -> str:
        try:
            with self._context(self.s2t):
                text = self.s2t(speech)[0][0]
        except RuntimeError as exc:  # past the 448 positions of Whisper's decoder
            logger.warning("ESPnet's search ran past Whisper's text positions (%s): again, at most %d tokens",
                           exc, self.max_tokens)
            self.capped += 1
            self.s2t_capped = self.s2t_capped or self._speech2text(maxlenratio=-self.max_tokens)
            with self._context(self.s2t_capped):
                text = self.s2t_capped(speech)[0][0]
        return _plain(text)

    def decode_batch(self, speeches: Sequence[np.ndarray]) -> List[str]:
        """Transcripts of ``speeches`` in one ``batch_decode``; one by one if a search ran away."""
        if len(speeches) == 1:
            return [self(speeches[0])]
        try:
            with self._context(self.s2t):
                return [_plain(nbest[0][0]) for nbest in self.s2t.batch_decode(list(speeches))]
        except RuntimeError as exc:  # a search of the batch ran past the 448 positions
            logger.warning("ESPnet's batched search ran past Whisper's text positions (%s): "
                           "these %d utterances again one at a time", exc, len(speeches))
            self.batches_redone += 1
            return [self(speech) for speech in speeches]


def _plain(text: str) -> str:
    """ESPnet keeps Whisper's control tokens in the text with transformers 5: drop them."""
    return " ".join(_WHISPER_TOKEN.sub(" ", text).split())


def dynprune_config(model_dir: Path) -> Path:
    """The model's config with ``encoder: whisper_dynprune`` and ``decoder: whisper_dynprune``
    (dense: ``gate_predictor: none``); a statically pruned encoder (``whisper_pruned``) and a
    part with trained gates (a fine-tuned ``whisper_dynprune``) stay."""
    from espnet_dynprune.nets.config_names import WHISPER_DYNPRUNE_NAME, WHISPER_NAME, WHISPER_PRUNED_NAME

    config = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))
    for part in ("encoder", "decoder"):
        if config.get(part) == WHISPER_DYNPRUNE_NAME or (part == "encoder" and config.get(part) == WHISPER_PRUNED_NAME):
            continue  # trained gates, or a statically pruned encoder: as they are
        if config.get(part) != WHISPER_NAME:
            raise ValueError(f"{model_dir / 'config.yaml'}: {part} {config.get(part)!r}, expected {WHISPER_NAME}")
        config[part] = WHISPER_DYNPRUNE_NAME
        config[f"{part}_conf"] = {**config.get(f"{part}_conf", {}), "gate_predictor": "none"}
    out = model_dir / "config_dynprune.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return out


def faster_whisper_decoder(model_dir: Path, compute_type: str, language: str, task: str, beam_size: int, threads: int) -> Decoder:
    """faster-whisper on the CTranslate2 directory the model was converted from."""
    from faster_whisper import WhisperModel

    source = Path(json.loads((model_dir / "conversion.json").read_text(encoding="utf-8"))["source"])
    if not (source / "model.bin").is_file():
        raise FileNotFoundError(f"{model_dir} was not converted from a faster-whisper directory ({source})")
    model = WhisperModel(str(source), device="cpu", compute_type=compute_type, cpu_threads=threads, num_workers=1)
    language_arg = language if model.model.is_multilingual else None

    def run(speech: np.ndarray) -> str:
        segments, _ = model.transcribe(
            speech, language=language_arg, task=task, beam_size=beam_size, temperature=0.0, vad_filter=False,
            without_timestamps=True, condition_on_previous_text=False,
        )  # fmt: skip
        return " ".join(" ".join(s.text for s in segments).split())

    return run


def _espnet_options(options: Sequence[str]) -> Optional[Tuple[int, bool, bool]]:
    """(batch size, Whisper's search, int8) from ``espnet`` / ``dynprune``'s ``[:N][:whisper][:int8]``;
    None if malformed."""
    flags = [o for o in options if o in (WHISPER_SEARCH, INT8)]
    rest = [o for o in options if o not in flags]
    if len(set(flags)) < len(flags) or len(rest) > 1 or rest and not (rest[0].isdigit() and int(rest[0]) > 0):
        return None
    return int(rest[0]) if rest else 1, WHISPER_SEARCH in flags, INT8 in flags


def build(system: str, model_dir: Path, language: str, task: str, beam_size: int, threads: int, max_tokens: int) -> Decoder:
    """The decoder named ``system`` (``espnet[:N][:whisper][:int8]``, ``dynprune[:N][:whisper][:int8]``
    or ``faster_whisper:<compute_type>``)."""
    kind, *options = system.split(":")
    espnet_options = _espnet_options(options) if kind in (ESPNET, DYNPRUNE) else None
    if espnet_options is not None:
        config = dynprune_config(model_dir) if kind == DYNPRUNE else None
        return EspnetWhisper(model_dir, language, task, beam_size, max_tokens, config, *espnet_options)
    if kind == FASTER_WHISPER and len(options) == 1 and options[0] in COMPUTE_TYPES:
        return faster_whisper_decoder(model_dir, options[0], language, task, beam_size, threads)
    kinds = (f"{ESPNET}[:N][:{WHISPER_SEARCH}][:{INT8}], {DYNPRUNE}[:N][:{WHISPER_SEARCH}][:{INT8}] "
             f"(N utterances a batch) "
             f"or {FASTER_WHISPER}:<{'|'.join(COMPUTE_TYPES)}>")
    raise ValueError(f"system {system!r}: expected {kinds}")


def load_test_set(test_dir: Path, max_utts: int) -> List[Tuple[str, np.ndarray]]:
    """``(utt, 16 kHz float samples in [-1, 1])`` of a dump dir, by utterance id (the first
    ``max_utts`` if > 0)."""
    wavs = read_map(test_dir / "wav.scp")
    utts = sorted(wavs)[:max_utts] if max_utts > 0 else sorted(wavs)
    return [(utt, decode(wavs[utt], SAMPLE_RATE).astype(np.float32) / PCM16_SCALE) for utt in utts]


def decode_set(decoder: Decoder, audio: Sequence[Tuple[str, np.ndarray]], out: Path) -> Dict[str, object]:
    """Decode every utterance (a batch at a time where the decoder has ``batch_size`` > 1), timing
    each call; write ``text`` and return the timing record."""
    batch = getattr(decoder, "batch_size", 1)
    lines, seconds = [], []
    for first in range(0, len(audio), batch):
        chunk = audio[first : first + batch]
        start = time.perf_counter()
        hypotheses = decoder.decode_batch([s for _, s in chunk]) if batch > 1 else [decoder(chunk[0][1])]
        seconds += [(time.perf_counter() - start) / len(chunk)] * len(chunk)
        lines += [f"{utt} {hypothesis}".rstrip() + "\n" for (utt, _), hypothesis in zip(chunk, hypotheses)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "text").write_text("".join(lines), encoding="utf-8")
    audio_seconds = sum(len(s) for _, s in audio) / SAMPLE_RATE
    return {
        "num_utts": len(audio),
        "espnet_capped": getattr(decoder, "capped", 0),
        "batches_redone": getattr(decoder, "batches_redone", 0),
        "seconds_per_utt_is": "measured" if batch == 1 else f"the seconds of its batch of {batch} shared out",
        "decode_seconds": float(np.sum(seconds)),
        "utts_per_second": len(audio) / float(np.sum(seconds)),
        "audio_seconds": audio_seconds,
        "per_utt_seconds": dict(zip((u for u, _ in audio), seconds)),
    }


def decode_all(
    model_dir: str,
    test_dirs: Sequence[str],
    out_dir: str,
    systems: str = f"{ESPNET},{FASTER_WHISPER}:float32,{FASTER_WHISPER}:int8",
    beam_size: int = 5,
    threads: int = 2,
    max_utts: int = 0,
    espnet_max_tokens: int = 200,
) -> Dict[str, Dict[str, Dict[str, object]]]:
    """Decode each test dir with each system (one process, one after another); return timings."""
    torch.set_num_threads(threads)
    names = [s.strip() for s in systems.split(",") if s.strip()]
    model = Path(model_dir)
    results: Dict[str, Dict[str, Dict[str, object]]] = {}
    for test in map(Path, test_dirs):
        language, task = test_set_context(test)
        audio: Optional[List[Tuple[str, np.ndarray]]] = None
        for system in names:
            out = Path(out_dir) / system_dir(system) / test.name
            stamp = {"model_dir": str(model), "test_dir": str(test), "system": system, "beam_size": beam_size,
                     "threads": threads, "max_utts": max_utts, "language": language, "task": task,
                     "espnet_max_tokens": espnet_max_tokens}
            done = out / ".done"
            if done.is_file() and json.loads(done.read_text(encoding="utf-8")) == stamp:
                logger.info("%s: done before, kept", out)
                results.setdefault(system, {})[test.name] = json.loads((out / "timing.json").read_text(encoding="utf-8"))
                continue
            audio = audio if audio is not None else load_test_set(test, max_utts)
            decoder = build(system, model, language, task, beam_size, threads, espnet_max_tokens)
            decoder(audio[0][1])  # warm-up, not timed (and of the batched search where there is one)
            if getattr(decoder, "batch_size", 1) > 1:
                decoder.decode_batch([audio[0][1]] * 2)
            if hasattr(decoder, "capped"):
                decoder.capped = decoder.batches_redone = 0
            timing = {**stamp, **decode_set(decoder, audio, out)}
            (out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n", encoding="utf-8")
            done.write_text(json.dumps(stamp) + "\n", encoding="utf-8")
            logger.info("%s: %d utterances, %.2f utt/s", out, timing["num_utts"], timing["utts_per_second"])
            results.setdefault(system, {})[test.name] = timing
    return results


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="a dir written by espnet_dynprune.bin.whisper_convert")
    parser.add_argument("--test_dirs", nargs="+", required=True, help="dump dirs (16 kHz wav.scp, OWSM text)")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--systems", default=f"{ESPNET},{FASTER_WHISPER}:float32,{FASTER_WHISPER}:int8")
    parser.add_argument("--beam_size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of every system")
    parser.add_argument("--max_utts", type=int, default=0, help="first N utterances of each set (0: all)")
    parser.add_argument("--espnet_max_tokens", type=int, default=200, help="ESPnet's cap where it ran past 448 positions")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    configure_logging()
    decode_all(**vars(get_parser().parse_args(argv)))


if __name__ == "__main__":
    main()
