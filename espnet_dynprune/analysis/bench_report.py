"""The benchmark's table of ratios and the speed targets it checks, from ``bench.measure`` results."""

from __future__ import annotations

from typing import Dict, List, Optional

DENSE, STOCK = "dynprune dense", "stock ESPnet"
TARGETS = {
    "cached_kv": 0.2,  # dense decode time / stock ESPnet decode time
    "time_vs_gmac": 1.1,  # (time(s)/time(dense)) / (GMAC(s)/GMAC(dense)) at s >= 0.3
    "gate_overhead": 0.01,  # time(sparsity 0, predictor on) / time(dense) - 1
    "mixed_batch": 0.9,  # batch-8 mixed-pattern throughput / per-utterance ideal
}


def ratios(results: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, float]]:
    """Per configuration: time and GMAC relative to dynprune dense, and their quotient.

    Also per part (``encoder``/``decoder``): a part's time ratio over its GMAC ratio shows
    which part's speed follows its GMAC (compute-bound) and which does not (memory-bound).
    """
    dense = results[DENSE]
    out = {}
    for name, r in results.items():
        time_ratio = r["total_s"] / dense["total_s"]
        gmac_ratio = r["gmac_total"] / dense["gmac_total"]
        out[name] = {"time_ratio": time_ratio, "gmac_ratio": gmac_ratio,
                     "time_over_gmac": time_ratio / gmac_ratio}
        for part in ("encoder", "decoder"):
            part_time = r[f"{part}_s"] / dense[f"{part}_s"]
            out[name][f"{part}_time_over_gmac"] = part_time / (r[f"gmac_{part}"] / dense[f"gmac_{part}"])
    return out


def targets(results: Dict[str, Dict[str, float]], mixed: Optional[Dict[str, float]]) -> List[Dict]:
    """Each target with its measured value and whether it is met."""
    rel = ratios(results)
    rows = [{"target": "decode time, dense cached K/V / stock ESPnet", "limit": f"<= {TARGETS['cached_kv']}",
             "value": results[DENSE]["decoder_s"] / results[STOCK]["decoder_s"]}]
    rows[-1]["met"] = rows[-1]["value"] <= TARGETS["cached_kv"]
    for name, r in rel.items():
        sparsity = name.split()[-1]
        if name in (DENSE, STOCK) or ":" in sparsity or float(sparsity) < 0.3:  # fp32 sparsities only
            continue
        rows.append({"target": f"time ratio / GMAC ratio, {name}", "limit": f"<= {TARGETS['time_vs_gmac']}",
                     "value": r["time_over_gmac"], "met": r["time_over_gmac"] <= TARGETS["time_vs_gmac"]})
    if "both 0.0" in results:
        overhead = results["both 0.0"]["total_s"] / results[DENSE]["total_s"] - 1
        rows.append({"target": "gate overhead at sparsity 0 (both parts)",
                     "limit": f"<= {TARGETS['gate_overhead']:.0%}", "value": overhead,
                     "met": overhead <= TARGETS["gate_overhead"]})
    if mixed:
        rows.append({"target": f"batch-8 mixed patterns ({mixed['distinct_patterns']} distinct) "
                               f"throughput / per-utterance", "limit": f">= {TARGETS['mixed_batch']}",
                     "value": mixed["throughput_ratio"],
                     "met": mixed["throughput_ratio"] >= TARGETS["mixed_batch"]})
    return rows


def markdown(size: str, results: Dict[str, Dict[str, float]], mixed: Optional[Dict[str, float]]) -> str:
    """The per-configuration table and the targets, as markdown."""
    rel = ratios(results)
    lines = [f"### OWSM v3.1 {size}",
             "| configuration | encoder s | decoder s | total s (spread) | GMAC | time / dense | GMAC / dense "
             "| time ratio / GMAC ratio | encoder only | decoder only |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        q = rel[name]
        lines.append(f"| {name} | {r['encoder_s']:.3f} | {r['decoder_s']:.3f} | {r['total_s']:.3f} "
                     f"(±{r['spread'] / 2:.0%}) | {r['gmac_total']:.1f} | {q['time_ratio']:.3f} "
                     f"| {q['gmac_ratio']:.3f} | {q['time_over_gmac']:.3f} "
                     f"| {q['encoder_time_over_gmac']:.3f} | {q['decoder_time_over_gmac']:.3f} |")
    if mixed:
        lines += ["", f"Batch of 8 (different languages/tasks, forced sparsity {mixed['sparsity']}): "
                      f"{mixed['batch_s']:.3f} s together vs {mixed['alone_s']:.3f} s one by one."]
    lines += ["", "| target | limit | measured | met |", "|---|---|---|---|"]
    for t in targets(results, mixed):
        value = f"{t['value']:.1%}" if "overhead" in t["target"] else f"{t['value']:.3f}"
        lines.append(f"| {t['target']} | {t['limit']} | {value} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(lines)
