"""Decode time of every experiment of a grid, measured side by side with nothing else running.

``cd egs2/europarl_st/s2t1 && python -m espnet_dynprune.recipe.timing --raw_dir results/raw
--utts_per_set 10 --repeats 3``

The grid decodes while another experiment trains on the other core, so its per-utterance times
measure the neighbour as much as the model. This pass decodes the first ``utts_per_set``
utterances (C-sorted) of every test set again, for every decoding of every experiment whose
model is still in ``exp/``, one thread, models taken in turn within each repeat (``analysis.clock``:
a slower moment of the machine hits them all), and keeps per utterance the median over repeats. It
checks that each hypothesis is the one the grid decoded (the same computation was timed) and
merges ``<raw_dir>/timing.json`` (:mod:`espnet_dynprune.analysis.raw_results`): entries of an
experiment whose raw result changed are measured again, others kept, each with the date of the
pass that measured it (``measured``): times of different passes do not compare (the machine may
have been busier), and the results page says which pass each time is from. Other settings than the
file's measure everything again, and are refused while that would drop an experiment whose model
is gone (its time could not be measured again).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet_dynprune.analysis import raw_results
from espnet_dynprune.analysis.clock import round_robin
from espnet_dynprune.analysis.scoring import strip_special_tokens
from espnet_dynprune.logs import configure_logging
from espnet_dynprune.recipe.decode import _read_speech, load_speech2text, parse_gates
from espnet_dynprune.recipe.utterance_records import decode_utterance

Key = Tuple[str, str]  # (experiment, decode)


def _plan(recipe: Path, records: List[dict], done: Dict[str, dict], utts_per_set: int) -> Dict[Key, dict]:
    """What to time: per (experiment, decode) its model, gates and utterances per test set."""
    plan = {}
    for record in records:
        meta = record["meta"]
        if done.get(meta["name"], {}).get("spec_hash") == meta["spec_hash"]:
            continue
        for decode, sets in record["decodes"].items():
            summary = recipe / "exp" / meta["name"] / decode / next(iter(sets)) / "decode_summary.json"
            if not summary.is_file():
                logging.warning(f"{summary} is missing (the model is not kept here): {meta['name']} not timed")
                break
            settings = json.loads(summary.read_text(encoding="utf-8"))["settings"]
            model_file = Path(settings["s2t_model_file"])
            if not model_file.is_file():
                logging.warning(f"{model_file} is missing: {meta['name']} not timed")
                break
            gates = settings["gates"]
            plan[(meta["name"], decode)] = {
                "spec_hash": meta["spec_hash"], "config": settings["s2t_train_config"], "model": str(model_file),
                "gates": gates if isinstance(gates, dict) else parse_gates(gates), "beam_size": settings["beam_size"],
                "sets": {t: (recipe / e["data_dir"], e["language"], e["task"],
                             sorted(e["utts"], key=lambda u: u.encode("utf-8"))[:utts_per_set], e["utts"])
                         for t, e in sets.items()},
            }
    return plan


def time_models(plan: Dict[Key, dict], repeats: int) -> Dict[Key, dict]:
    """Decode every planned utterance ``repeats`` times, models in turn; medians per utterance."""
    from espnet2.fileio.sound_scp import SoundScpReader

    torch.set_num_threads(1)
    models = {k: load_speech2text(p["config"], p["model"], beam_size=p["beam_size"], gates=p["gates"])
              for k, p in plan.items()}
    readers = {}
    same: Dict[Key, int] = {}  # hypotheses of the first timed round that are the grid's

    def decode_plan(key: Key, first_only: bool = False) -> Dict[str, float]:
        """Seconds of each planned utterance of ``key`` (and, as ``<utt> encoder``, of its encoder)."""
        seconds, matches = {}, 0
        for test_set, (data_dir, lang, task, utts, grid_utts) in plan[key]["sets"].items():
            if data_dir not in readers:
                readers[data_dir] = SoundScpReader(str(data_dir / "wav.scp"), dtype="float32")
            rate = int(models[key].preprocessor_conf["fs"])
            for utt in utts[:1] if first_only else utts:
                speech = _read_speech(readers[data_dir], utt, data_dir / "wav.scp", rate)
                result = decode_utterance(models[key], speech, f"<{lang}>", f"<{task}>")
                seconds[f"{test_set} {utt}"] = result["seconds"]
                seconds[f"{test_set} {utt} encoder"] = result["encoder_seconds"]
                matches += strip_special_tokens(result["text"]) == grid_utts[utt]["hyp"]
        if not first_only:
            same.setdefault(key, matches)
        return seconds

    for key in plan:  # warm-up: one utterance per set, untimed
        decode_plan(key, first_only=True)
    timed = round_robin(list(plan), decode_plan, repeats, warmup=0)
    out = {}
    for key, p in plan.items():
        phases = list(timed[key].rounds[0])
        per_utt = [timed[key].median(u) for u in phases if not u.endswith(" encoder")]
        enc = [timed[key].median(u) for u in phases if u.endswith(" encoder")]
        out[key] = {"spec_hash": p["spec_hash"], "utts": len(per_utt), "seconds_per_utt": statistics.mean(per_utt),
                    "encoder_seconds_per_utt": statistics.mean(enc), "same_hypotheses": same[key] / len(per_utt)}
    return out


def timing(recipe_dir: Path, raw_dir: Path, utts_per_set: int = 10, repeats: int = 3) -> dict:
    recipe_dir = recipe_dir.resolve()
    raw_dir = recipe_dir / raw_dir
    current = raw_results.read_timing(raw_dir)
    runs = current.get("runs", {})
    settings = {"utts_per_set": utts_per_set, "repeats": repeats, "threads": 1}
    changed = bool(current) and current.get("settings") != settings
    plan = _plan(recipe_dir, raw_results.load(raw_dir), {} if changed else runs, utts_per_set)
    if changed:
        lost = sorted(set(runs) - {name for name, _ in plan})
        if lost:
            raise ValueError(f"{raw_dir / raw_results.TIMING} was measured with {current.get('settings')}; measuring "
                             f"with {settings} would drop {lost}, whose models are not in exp/ any more: time with "
                             f"the old settings, or remove the file to measure only what is here")
        logging.info(f"timing settings changed ({current.get('settings')} -> {settings}): measuring everything again")
        runs = {}
    logging.info(f"timing {len(plan)} decodings of {len({k[0] for k in plan})} experiments")
    measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())  # this pass: times compare within one
    for (name, decode), entry in time_models(plan, repeats).items():
        entry["measured"] = measured
        if runs.get(name, {}).get("spec_hash") != entry["spec_hash"]:
            runs[name] = {"spec_hash": entry["spec_hash"], "decodes": {}}
        runs[name]["decodes"][decode] = {k: v for k, v in entry.items() if k != "spec_hash"}
    result = {"settings": settings, "runs": runs}
    raw_results.write_timing(raw_dir, result)
    return result


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe_dir", type=Path, default=Path("."))
    parser.add_argument("--raw_dir", type=Path, default=Path("results/raw"), help="relative to the recipe")
    parser.add_argument("--utts_per_set", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    configure_logging()
    result = timing(args.recipe_dir, args.raw_dir, args.utts_per_set, args.repeats)
    for name, run in sorted(result["runs"].items()):
        for decode, entry in run["decodes"].items():
            print(f"{name} {decode}: {entry['seconds_per_utt']:.3f} s/utt over {entry['utts']} utts, "
                  f"same hypotheses {entry['same_hypotheses']:.2f}")
    return result


if __name__ == "__main__":
    main()
