"""``python -m espnet_dynprune.bin.demo``: dynamic pruning end to end on a tiny model.

Generates a small fr/de espeak-ng corpus in OWSM format, trains a tiny
OWSM-architecture model with ``model: dynprune`` / ``encoder:
e_branchformer_dynprune`` / ``decoder: transformer_dynprune`` through stock
``python -m espnet2.bin.s2t_train`` (the installed plugin registers itself),
decodes the test set with ESPnet's ``Speech2Text`` both with the predicted
gates and with all gates on, and prints WER (ASR), BLEU (ST), realised
sparsity and decoding time. A tiny model trained for minutes is far from
OWSM quality; the point is the full path, not the numbers.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_dynprune.analysis.scoring import score
from espnet_dynprune.data.owsm_datadir import read_map
from espnet_dynprune.data.tiny_corpus import build_tiny_corpus
from espnet_dynprune.data.tiny_training import best_model_file, speech_length_for, train, write_s2t_config

_PREFIX = re.compile(r"^<(\w+)><(\w+)><notimestamps>\s*(.*)$")


def read_test_set(data_dir: Path) -> Dict[tuple, List[tuple]]:
    """(lang, task) -> [(wav path, reference)] from an OWSM-format data dir."""
    wavs, texts = read_map(data_dir / "wav.scp"), read_map(data_dir / "text")
    groups: Dict[tuple, List[tuple]] = defaultdict(list)
    for utt, text in texts.items():
        match = _PREFIX.match(text)
        if match is None:
            raise ValueError(f"{data_dir / 'text'}: {utt} does not start with <lang><task><notimestamps>")
        lang, task, reference = match.groups()
        groups[(lang, task)].append((wavs[utt], reference))
    return dict(groups)


def evaluate(exp_dir: Path, groups: Dict[tuple, List[tuple]], gates: Optional[str], beam_size: int) -> dict:
    """Decode every (lang, task) group; ``gates="on"`` forces the dense network."""
    from espnet_dynprune.data.espeak import read_wav
    from espnet_dynprune.recipe.decode import decode_utterance, load_speech2text

    s2t = load_speech2text(exp_dir / "config.yaml", best_model_file(exp_dir), beam_size=beam_size,
                           ctc_weight=0.0, gates=gates)
    results, sparsity, seconds, count = {}, defaultdict(list), 0.0, 0
    for (lang, task), items in sorted(groups.items()):
        hyps = []
        for wav, _ in items:
            decoded = decode_utterance(s2t, read_wav(wav), f"<{lang}>", f"<{task}>")
            hyps.append(decoded["text"])
            seconds += decoded["seconds"]
            count += 1
            for name, value in decoded["sparsity"].items():
                sparsity[name].append(value)
        scores = score(task, hyps, [ref for _, ref in items])
        results[f"{lang}/{task}"] = {k: scores[k] for k in ("wer", "bleu", "chrf") if k in scores}
    return {
        "scores": results,
        "sparsity": {name: sum(v) / len(v) for name, v in sparsity.items()},
        "seconds_per_utt": seconds / max(count, 1),
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work_dir", type=Path, default=Path("demo_work"))
    parser.add_argument("--langs", nargs="+", default=["fra", "deu"])
    parser.add_argument("--per_lang_train", type=int, default=120)
    parser.add_argument("--per_lang_test", type=int, default=10)
    parser.add_argument("--max_epoch", type=int, default=12)
    parser.add_argument("--sparsity_target", type=float, default=0.3)
    parser.add_argument("--beam_size", type=int, default=3)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    corpus = args.work_dir / "corpus"
    if not (corpus / "data" / "test" / "text").exists():
        sizes = {"train": args.per_lang_train, "dev": 8, "test": args.per_lang_test}
        build_tiny_corpus(corpus, langs=args.langs, sizes=sizes)
    gating = {"sparsity_target": args.sparsity_target}
    config = write_s2t_config(
        args.work_dir / "train_dynprune.yaml", speech_length=speech_length_for(corpus),
        encoder="e_branchformer_dynprune", decoder="transformer_dynprune", model="dynprune",
        encoder_extra=gating, decoder_extra=gating, max_epoch=args.max_epoch,
    )
    run = train(corpus, config, args.work_dir / "exp")
    groups = read_test_set(corpus / "data" / "test")
    report = {
        "pruned": evaluate(run.exp_dir, groups, None, args.beam_size),
        "dense": evaluate(run.exp_dir, groups, "on", args.beam_size),
        "train_seconds": run.seconds,
        "total_seconds": time.perf_counter() - start,
    }
    (args.work_dir / "results.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
