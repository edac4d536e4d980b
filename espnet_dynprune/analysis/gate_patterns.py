"""Gate patterns of a decoding: which modules ran, per utterance, and how much they depend on context.

``python -m espnet_dynprune.recipe.gate_patterns --decode_root EXP/decode_beam5_gates_predicted
--write_most_frequent EXP/most_frequent_gates.json``

A pattern is one part's keep flags in gate order (``"1101..."``: 1 = the module ran). The paper
claims the gates depend on the language and the task; measured here as the number of distinct
patterns per language / task and the mutual information (bits) between pattern and language or
task over all decoded utterances. The most frequent pattern of a dynamic model, forced on every
utterance (``recipe.decode --gates FILE.json``), is the static baseline the dynamic gates must beat.

A pattern file is ``{part: {gate: keep}}``, the ``gates`` record of ``gates.jsonl``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple, Union

PathLike = Union[str, Path]
Pattern = Dict[str, Dict[str, bool]]  # part -> gate -> keep


def read_gates_jsonl(path: PathLike) -> List[Pattern]:
    """The ``gates`` record of every utterance of a ``gates.jsonl`` (empty for a model without gates)."""
    path = Path(path)
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line)["gates"])
        except (ValueError, KeyError) as error:
            raise ValueError(f"{path}:{number}: not a gate record ({error})") from error
    return records


def as_string(gates: Mapping[str, bool]) -> str:
    """``"1101..."`` in the record's gate order."""
    return "".join("1" if keep else "0" for keep in gates.values())


def decoded_test_sets(decode_root: PathLike) -> List[Path]:
    """Test-set dirs of a decode root that hold a merged ``gates.jsonl``."""
    root = Path(decode_root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a decode directory")
    found = sorted(d for d in root.iterdir() if (d / "gates.jsonl").is_file())
    if not found:
        raise FileNotFoundError(f"{root} has no test set with a gates.jsonl: decode it first")
    return found


def most_frequent(records: Iterable[Pattern]) -> Pattern:
    """The commonest pattern of each part, independently (ties: the first seen)."""
    counts: Dict[str, Counter] = {}
    names: Dict[str, Tuple[str, ...]] = {}
    for record in records:
        for part, gates in record.items():
            names.setdefault(part, tuple(gates))
            counts.setdefault(part, Counter())[as_string(gates)] += 1
    if not counts:
        raise ValueError("no gate decisions to choose a pattern from (a model without gates?)")
    return {part: {g: bit == "1" for g, bit in zip(names[part], counts[part].most_common(1)[0][0])}
            for part in counts}


def read_pattern(path: PathLike) -> Pattern:
    """A pattern file, checked: ``{part: {gate: true|false}}``."""
    path = Path(path)
    try:
        pattern = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"gate pattern file {path}: {error}") from error
    if not isinstance(pattern, dict) or not pattern or not all(
            isinstance(g, dict) and g and all(isinstance(k, bool) for k in g.values()) for g in pattern.values()):
        raise ValueError(f"gate pattern file {path} must map each part to {{gate: true|false}}, got {pattern!r:.200}")
    return pattern


def entropy(counts: Iterable[int]) -> float:
    counts = [c for c in counts if c]
    total = sum(counts)
    return max(0.0, -sum(c / total * math.log2(c / total) for c in counts)) if total else 0.0


def mutual_information(pairs: Sequence[Tuple[str, str]]) -> float:
    """I(X; Y) in bits of the empirical joint distribution of ``(x, y)`` pairs."""
    joint = Counter(pairs)
    xs = Counter(x for x, _ in pairs)
    ys = Counter(y for _, y in pairs)
    return max(0.0, entropy(xs.values()) + entropy(ys.values()) - entropy(joint.values()))


def context_dependence(utterances: Sequence[Tuple[str, str, Pattern]]) -> Dict[str, dict]:
    """Per part: distinct patterns overall / per language / per task, the keep rate of every gate
    per language and task, and I(pattern; language), I(pattern; task), I(pattern; language x task)
    with the entropies that bound them. ``utterances``: (language, task, gate record)."""
    parts = sorted({p for _, _, record in utterances for p in record})
    out = {}
    for part in parts:
        rows = [(lang, task, as_string(rec[part])) for lang, task, rec in utterances if part in rec]
        names = next(list(rec[part]) for _, _, rec in utterances if part in rec)
        patterns = [p for _, _, p in rows]
        keep_rate = {}
        for key in sorted({f"{lang} {task}" for lang, task, _ in rows}):
            mine = [p for lang, task, p in rows if f"{lang} {task}" == key]
            keep_rate[key] = [sum(p[g] == "1" for p in mine) / len(mine) for g in range(len(names))]
        out[part] = {
            "utterances": len(rows),
            "gates": names,
            "distinct_patterns": len(set(patterns)),
            "distinct_per_language": {x: len({p for lang, _, p in rows if lang == x}) for x in sorted({r[0] for r in rows})},
            "distinct_per_task": {x: len({p for _, task, p in rows if task == x}) for x in sorted({r[1] for r in rows})},
            "pattern_entropy_bits": entropy(Counter(patterns).values()),
            "language_entropy_bits": entropy(Counter(r[0] for r in rows).values()),
            "task_entropy_bits": entropy(Counter(r[1] for r in rows).values()),
            "mi_language_bits": mutual_information([(p, lang) for lang, _, p in rows]),
            "mi_task_bits": mutual_information([(p, task) for _, task, p in rows]),
            "mi_language_task_bits": mutual_information([(p, f"{lang} {task}") for lang, task, p in rows]),
            "keep_rate": keep_rate,
        }
    return out


def margin_summary(utterances: Sequence[Tuple[str, str, Sequence[float]]]) -> Dict[str, float]:
    """Why a part's pattern does or does not move with the context, from each gate's keep-minus-skip
    logit (``margins``; a decision flips where it crosses 0). ``utterances``: (language, task, margins).

    Per gate: |mean margin| (distance from flipping), the spread of the per-context means (what
    language and task move it by) and the spread within a context (what the speech moves it by);
    returned as means over gates, with the gates whose sign differs between contexts counted.
    """
    margins = [list(m) for _, _, m in utterances]
    gates = range(len(margins[0]))
    contexts = sorted({f"{lang} {task}" for lang, task, _ in utterances})
    by_context = {c: [m for (lang, task, _), m in zip(utterances, margins) if f"{lang} {task}" == c] for c in contexts}

    def mean(xs: Sequence[float]) -> float:
        return sum(xs) / len(xs)

    def std(xs: Sequence[float]) -> float:
        mu = mean(xs)
        return math.sqrt(mean([(x - mu) ** 2 for x in xs]))

    context_means = {c: [mean([m[g] for m in ms]) for g in gates] for c, ms in by_context.items()}
    return {
        "gates": len(gates),
        "mean_abs_margin": mean([abs(mean([m[g] for m in margins])) for g in gates]),
        "between_context_std": mean([std([context_means[c][g] for c in contexts]) for g in gates]),
        "within_context_std": mean([mean([std([m[g] for m in ms]) for ms in by_context.values()]) for g in gates]),
        "gates_flipping_between_contexts": sum(len({context_means[c][g] > 0 for c in contexts}) > 1 for g in gates),
        "gates_flipping_within_a_context": sum(any(len({m[g] > 0 for m in ms}) > 1 for ms in by_context.values())
                                               for g in gates),
    }


def write_most_frequent(decode_root: PathLike, output: PathLike) -> Pattern:
    """The most frequent pattern over every test set of ``decode_root``, written to ``output``."""
    records = [r for d in decoded_test_sets(decode_root) for r in read_gates_jsonl(d / "gates.jsonl")]
    pattern = most_frequent(records)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(pattern, indent=1) + "\n", encoding="utf-8")
    return pattern
