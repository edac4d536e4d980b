"""Wall-clock decoding of trained models (model-zoo dirs) side by side: encoder + beam search.

``bench encoder --zoo_dirs`` times encoders; a statically pruned decoder (and the whole beam
search) needs its own clock. Every model decodes the same random speech (``seconds`` at 16 kHz)
with ESPnet's ``BatchBeamSearch`` for exactly ``steps`` steps (its ``<eos>`` logit pushed down, so
every model emits the same number of tokens whatever it has learnt: the time is the shapes',
not the hypotheses' lengths), round-robin in one process (``analysis.clock``: warm-ups first, then ``repeats``
rounds; medians), prompted with ``<sos> <lang> <task> <notimestamps>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Sequence, Union

import torch

from espnet_dynprune.analysis.bench import fixed_length_search, prompt, push_eos_down
from espnet_dynprune.analysis.clock import now, round_robin
from espnet_dynprune.analysis.static_bench import load_zoo_model

Results = Dict[str, Dict[str, float]]


def bench_zoo_decoding(zoo_dirs: Sequence[Union[str, Path]], seconds: float = 6.0, steps: int = 20,
                       beam_size: int = 5, lang_sym: str = "<fra>", task_sym: str = "<asr>", repeats: int = 3,
                       warmup: int = 1, seed: int = 0, log: Callable[[str], None] = print) -> Results:
    """Per model: median encoder, decoder and total seconds per utterance, and ratios to the first."""
    models = {str(p): load_zoo_model(p) for p in zoo_dirs}
    speech = 0.1 * torch.randn(1, round(seconds * 16000), generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor([speech.size(1)])
    searches = {}
    for name, model in models.items():
        push_eos_down(model)
        searches[name] = fixed_length_search(model, beam_size)
        searches[name].set_hyp_primer(prompt({t: i for i, t in enumerate(model.token_list)}, lang_sym, task_sym))

    def run(name: str) -> Dict[str, float]:
        start = now()
        enc = models[name].encode(speech, lengths)[0]
        middle = now()
        searches[name](enc[0], maxlenratio=-float(steps), minlenratio=0.0)
        return {"encoder": middle - start, "decoder": now() - middle}

    with torch.inference_mode():
        timed = round_robin(list(models), run, repeats, warmup, log=log)
    results: Results = {}
    for name, model in models.items():
        summary = timed[name].summary()
        results[name] = {"encoder_s": summary["encoder_s"], "decoder_s": summary["decoder_s"],
                         "total_s": summary["total_s"], "params_M": sum(p.numel() for p in model.parameters()) / 1e6}
    first = results[str(zoo_dirs[0])]
    for r in results.values():
        for key in ("encoder_s", "decoder_s", "total_s"):
            r[f"{key[:-2]}_ratio"] = r[key] / first[key]
    return results


def markdown(results: Results, steps: int, beam_size: int) -> str:
    lines = [f"### trained models' decoding ({steps} beam-{beam_size} steps), against the first",
             "| model | params M | encoder s | decoder s | total s | encoder / first | decoder / first | total / first |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['params_M']:.2f} | {r['encoder_s']:.4f} | {r['decoder_s']:.4f} | {r['total_s']:.4f} "
                     f"| {r['encoder_ratio']:.3f} | {r['decoder_ratio']:.3f} | {r['total_ratio']:.3f} |")
    return "\n".join(lines)
