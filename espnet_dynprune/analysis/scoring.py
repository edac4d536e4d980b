"""Stage 13 scoring: WER/CER for ASR (jiwer), BLEU/chrF for ST (sacrebleu).

``python -m espnet_dynprune.bin.score --ref_text DUMP/text --hyp_text DECODE/text
--task asr --output DECODE/result.json``

Why a fixed, documented normalisation for ASR: WER otherwise mostly measures
casing and punctuation, which the OWSM references (Europarl-ST transcripts) and a
speech model disagree on for reasons unrelated to recognition. ST is scored on
the detokenised text with sacrebleu's defaults (13a tokenizer, case-sensitive),
the way MT results are reported, and the signatures are printed and stored so a
number can be reproduced. Model control tokens (``<fra>``, ``<notimestamps>``,
``<0.00>``...) are not text and are removed from references and hypotheses for
both tasks.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import jiwer
import sacrebleu

from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.owsm.symbols import SPECIAL_SYMBOL, check_task, has_prefix, parse_target, symbol_name

PathLike = Union[str, Path]

#: Typographic apostrophes and hyphens folded into ASCII before deciding what is punctuation.
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-"})
ASR_NORMALISATION = (
    "Unicode NFKC; special tokens <...> removed; lower-case; ’‘ʼ -> ' and U+2010/U+2011 -> -; "
    "every punctuation (P*) or symbol (S*) character -> space, except an apostrophe or hyphen "
    "between two letters/digits; whitespace collapsed. Same for reference and hypothesis."
)


def strip_special_tokens(text: str) -> str:
    """Remove ``<...>`` tokens and collapse the whitespace they leave."""
    return " ".join(SPECIAL_SYMBOL.sub(" ", text).split())


def normalise_for_wer(text: str) -> str:
    """The ASR normalisation described by ``ASR_NORMALISATION``."""
    text = unicodedata.normalize("NFKC", text)
    text = SPECIAL_SYMBOL.sub(" ", text).lower().translate(_FOLD)
    out = []
    for i, char in enumerate(text):
        if char in "'-":
            inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
            out.append(char if inside else " ")
        elif unicodedata.category(char)[0] in "PS":
            out.append(" ")
        else:
            out.append(char)
    return " ".join("".join(out).split())


def normalise_task(task: str) -> str:
    """``asr`` / ``<asr>`` / ``st_eng`` / ``<st_eng>`` -> ``asr`` / ``st_eng``, or ValueError."""
    return check_task(symbol_name(task), "--task")


def read_references(path: PathLike, task: Optional[str] = None) -> Dict[str, str]:
    """utt -> reference text from an OWSM ``text`` file, control tokens removed.

    With ``task`` given, an utterance whose ``<lang><task>`` prefix names another
    task is an error (scoring the ASR references of an ST test set, say).
    """
    refs = {}
    for utt, line in read_map(path).items():
        if task is not None and has_prefix(line):
            found = parse_target(line, f"{path}: {utt}").task
            if found != task:
                raise ValueError(f"{path}: {utt} is a <{found}> reference, not <{task}>: {line!r}")
        refs[utt] = strip_special_tokens(line)
    return refs


def read_hypotheses(path: PathLike) -> Dict[str, str]:
    """utt -> hypothesis text (``utt`` alone on a line is an empty hypothesis)."""
    return {utt: strip_special_tokens(text) for utt, text in read_map(path).items()}


def paired(refs: Dict[str, str], hyps: Dict[str, str], ref_path: PathLike = "references",
           hyp_path: PathLike = "hypotheses") -> Tuple[List[str], List[str], List[str]]:
    """(ids, refs, hyps) in reference order; different utterance sets are an error."""
    only_ref = [u for u in refs if u not in hyps]
    only_hyp = [u for u in hyps if u not in refs]
    if only_ref or only_hyp:
        raise ValueError(
            f"{hyp_path} and {ref_path} cover different utterances: {len(only_ref)} only in the "
            f"references (first: {only_ref[:3]}), {len(only_hyp)} only in the hypotheses "
            f"(first: {only_hyp[:3]})"
        )
    ids = list(refs)
    return ids, [refs[u] for u in ids], [hyps[u] for u in ids]


def score_asr(refs: Sequence[str], hyps: Sequence[str], ids: Optional[Sequence[str]] = None) -> dict:
    """WER and CER (%) after ``normalise_for_wer``; an empty reference is an error."""
    ids = list(ids) if ids is not None else [str(i) for i in range(len(refs))]
    norm_refs = [normalise_for_wer(r) for r in refs]
    norm_hyps = [normalise_for_wer(h) for h in hyps]
    empty = [u for u, r in zip(ids, norm_refs) if not r]
    if empty:
        raise ValueError(f"{len(empty)} references are empty after normalisation (first: {empty[:3]})")
    words = jiwer.process_words(norm_refs, norm_hyps)
    chars = jiwer.process_characters(norm_refs, norm_hyps)
    return {
        "wer": 100.0 * words.wer,
        "cer": 100.0 * chars.cer,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "ref_words": words.hits + words.substitutions + words.deletions,
        "normalisation": ASR_NORMALISATION,
    }


def score_st(refs: Sequence[str], hyps: Sequence[str]) -> dict:
    """Corpus BLEU and chrF with sacrebleu's defaults, plus their signatures."""
    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    bleu_score = bleu.corpus_score(list(hyps), [list(refs)])
    chrf_score = chrf.corpus_score(list(hyps), [list(refs)])
    return {
        "bleu": bleu_score.score,
        "chrf": chrf_score.score,
        "bleu_detail": str(bleu_score),
        "signatures": {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())},
    }


def score(task: str, hyps: Sequence[str], refs: Sequence[str], ids: Optional[Sequence[str]] = None) -> dict:
    """Score one test set: ``score_asr`` for ``asr``, ``score_st`` for ``st_xxx``."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    if normalise_task(task) == "asr":
        return score_asr(refs, hyps, ids)
    return score_st(refs, hyps)


def score_files(ref_text: PathLike, hyp_text: PathLike, task: str, output: Optional[PathLike] = None) -> dict:
    """Score ``hyp_text`` against the OWSM ``ref_text``; write ``output`` (JSON) if given."""
    task = normalise_task(task)
    ids, refs, hyps = paired(read_references(ref_text, task), read_hypotheses(hyp_text), ref_text, hyp_text)
    result = {"task": task, "num_utts": len(ids), **score(task, hyps, refs, ids),
              "ref_text": str(ref_text), "hyp_text": str(hyp_text)}
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def summary_line(result: dict) -> str:
    """One human-readable line: ``asr 60 utts: WER 12.34 CER 5.67``."""
    head = f"{result['task']} {result['num_utts']} utts:"
    if result["task"] == "asr":
        return f"{head} WER {result['wer']:.2f} CER {result['cer']:.2f}"
    return f"{head} BLEU {result['bleu']:.2f} chrF {result['chrf']:.2f}"
