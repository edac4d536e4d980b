"""Train a small sentencepiece model and write an OWSM v3.1-layout ``tokens.txt``.

Layout (as s2t.sh stage 5 builds it, see shared/notes/owsm-v3.1-configs.md section 3)::

    <blank> <unk> | spm user symbols ... | spm pieces ... | <sos> <eos> <sop>

where the spm user-defined symbols come first in the spm vocabulary, so ``<na>`` is id 2:
``<na> <nospeech> <lang>... <asr> <st_xxx>... <notimestamps> <0.00> ... <30.00>``.
The 1501 timestamp tokens are required even without timestamps in the data: S2TPreprocessor
looks up ``<0.00>``/``<30.00>`` at construction (KeyError otherwise) and Speech2Text's score
filter needs them. The result works with ``--token_type bpe --bpemodel bpe.model
--token_list tokens.txt``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple, Union

NA = "<na>"
NOSPEECH = "<nospeech>"
ASR = "<asr>"
NOTIME = "<notimestamps>"
BLANK, UNK, SOS, EOS, SOP = "<blank>", "<unk>", "<sos>", "<eos>", "<sop>"
_PREFIX = re.compile(r"^<([a-z]{3})><(asr|st_[a-z]{3})>")


@dataclass(frozen=True)
class TokenListPaths:
    """Where :func:`train_token_list` put its outputs."""

    bpemodel: Path
    tokens: Path
    nlsyms: Path


def timestamp_symbols(last: float = 30.0, step: float = 0.02) -> List[str]:
    """``<0.00> <0.02> ... <30.00>`` (1501 symbols for the OWSM defaults)."""
    n = int(round(last / step))
    return [f"<{i * step:.2f}>" for i in range(n + 1)]


def owsm_special_symbols(
    langs: Sequence[str],
    tasks: Sequence[str] = ("asr", "st_eng"),
    *,
    last_time: float = 30.0,
    time_step: float = 0.02,
) -> List[str]:
    """The spm user-defined symbols in OWSM order.

    ``langs`` are ISO-639-3 codes without brackets (``["deu", "eng", "fra"]``), kept in the
    given order after de-duplication; ``tasks`` are ``asr`` and ``st_xxx`` names; ``<asr>``
    always comes first among the tasks, as in OWSM.
    """
    lang_syms = [f"<{lang}>" for lang in dict.fromkeys(langs)]
    task_names = list(dict.fromkeys(["asr", *tasks]))
    for task in task_names:
        if task != "asr" and not task.startswith("st_"):
            raise ValueError(f"task={task!r} is neither 'asr' nor 'st_xxx'")
    return [NA, NOSPEECH, *lang_syms, *[f"<{t}>" for t in task_names], NOTIME, *timestamp_symbols(last_time, time_step)]


def default_langs(used: Iterable[str]) -> List[str]:
    """The languages in the data plus ``eng`` (the ST target), sorted like OWSM's list."""
    return sorted(set(used) | {"eng"})


def train_token_list(
    text_lines: Iterable[str],
    out_dir: Union[str, Path],
    *,
    langs: Sequence[str],
    tasks: Sequence[str] = ("asr", "st_eng"),
    num_pieces: int = 150,
    model_type: str = "unigram",
    character_coverage: float = 1.0,
    seed: int = 0,
    extra_symbols: Optional[Sequence[str]] = None,
) -> TokenListPaths:
    """Train ``out_dir/bpe.model`` on ``text_lines`` and write ``tokens.txt`` and ``nlsyms.txt``.

    ``text_lines`` are the *contents* of a Kaldi ``text`` file (utt ids stripped), special
    tokens included, exactly what s2t.sh feeds spm. ``num_pieces`` counts learned pieces only
    (the ~1500 special symbols and ``<unk> <s> </s>`` come on top); it is a soft limit, since a
    tiny corpus may not support that many pieces. ``extra_symbols`` are appended to the user
    symbols (after the timestamps, so OWSM indices stay put).
    """
    import sentencepiece as spm

    if num_pieces < 10:
        raise ValueError(f"num_pieces={num_pieces} is too small; use at least 10")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specials = owsm_special_symbols(langs, tasks) + list(extra_symbols or [])
    lines = [line.strip() for line in text_lines if line.strip()]
    if not lines:
        raise ValueError(f"no text lines to train the token list in {out_dir}")
    train_txt = out_dir / "train.txt"
    train_txt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    nlsyms = out_dir / "nlsyms.txt"
    nlsyms.write_text("\n".join(specials) + "\n", encoding="utf-8")

    prefix = out_dir / "bpe"
    spm.set_random_generator_seed(seed)  # global in spm; trainer options have no seed field
    spm.SentencePieceTrainer.train(
        input=str(train_txt),
        model_prefix=str(prefix),
        vocab_size=num_pieces + len(specials) + 3,
        model_type=model_type,
        character_coverage=character_coverage,
        user_defined_symbols=specials,
        hard_vocab_limit=False,
        input_sentence_size=0,  # all lines (spm rejects 1..100)
        shuffle_input_sentence=False,
        num_threads=1,
        minloglevel=2,
    )
    vocab = [line.split("\t", 1)[0] for line in (out_dir / "bpe.vocab").read_text(encoding="utf-8").splitlines()]
    if vocab[:3] != ["<unk>", "<s>", "</s>"]:
        raise RuntimeError(f"{prefix}.vocab starts with {vocab[:3]}, expected <unk> <s> </s>")
    if vocab[3 : 3 + len(specials)] != specials:
        raise RuntimeError(f"{prefix}.vocab does not list the user-defined symbols right after </s>")
    tokens = out_dir / "tokens.txt"
    tokens.write_text("\n".join([BLANK, UNK, *vocab[3:], SOS, EOS, SOP]) + "\n", encoding="utf-8")
    return TokenListPaths(bpemodel=prefix.with_suffix(".model"), tokens=tokens, nlsyms=nlsyms)


def read_token_list(path: Union[str, Path]) -> List[str]:
    """Tokens of a ``tokens.txt`` in id order."""
    return Path(path).read_text(encoding="utf-8").splitlines()


def _languages_and_tasks(lines: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Languages (spoken and translated into) and tasks named by OWSM ``<lang><task>`` prefixes."""
    langs, tasks = {}, {}
    for line in lines:
        match = _PREFIX.match(line)
        if match:
            lang, task = match.groups()
            langs[lang] = tasks[task] = None
            if task.startswith("st_"):
                langs[task[3:]] = None
    return sorted(langs), sorted(tasks)


def main(argv: Optional[Sequence[str]] = None) -> TokenListPaths:
    """Train a token list on Kaldi ``text`` files (the stand-in's stage; fine-tuning never does)."""
    import argparse

    parser = argparse.ArgumentParser(description="Train bpe.model + OWSM-layout tokens.txt on OWSM text files.")
    parser.add_argument("--text", type=Path, nargs="+", required=True, help="Kaldi text files (utt_id text)")
    parser.add_argument("--out_dir", type=Path, required=True, help="e.g. data/token_list/bpe_unigram300")
    parser.add_argument("--num_pieces", type=int, default=150)
    args = parser.parse_args(argv)
    lines = [line.split(" ", 1)[1] for path in args.text
             for line in path.read_text(encoding="utf-8").splitlines() if " " in line]  # fmt: skip
    langs, tasks = _languages_and_tasks(lines)
    if not langs:
        raise ValueError(f"{[str(p) for p in args.text]}: no line starts with an OWSM <lang><task> prefix")
    paths = train_token_list(lines, args.out_dir, langs=langs, tasks=tasks, num_pieces=args.num_pieces)
    print(paths.tokens.parent)
    return paths


if __name__ == "__main__":
    main()
