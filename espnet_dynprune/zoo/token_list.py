"""Stage 5: the token list a model trains with: the pretrained model's, or a new one.

Fine-tuning takes the pretrained model's ``bpe.model`` and ``tokens.txt`` and never retrains
them (:func:`copy_token_list`). Why a check there: fine-tuning data may use a language or task
the pretrained model has no token for (e.g. ``<hun>`` with a model pretrained without
Hungarian); the S2T preprocessor would map it to ``<unk>`` silently and the gate predictor would
get no language; here it fails, naming the symbol and the file that uses it.

A model trained from scratch (the stand-in) gets a new sentencepiece model on its training
text (:func:`train_token_list`), in OWSM's layout (:mod:`espnet_dynprune.owsm.token_layout`),
as s2t.sh stage 5 builds it::

    <blank> <unk> | spm user symbols ... | spm pieces ... | <sos> <eos> <sop>

where the spm user-defined symbols come first in the spm vocabulary, so ``<na>`` is id 2:
``<na> <nospeech> <lang>... <asr> <st_xxx>... <notimestamps> <0.00> ... <30.00>``. The result
works with ``--token_type bpe --bpemodel bpe.model --token_list tokens.txt``.

``python -m espnet_dynprune.recipe.token_list --pretrained_model DIR --output_dir data/token_list
--check_text dump/raw/train/text`` copies ``bpe.model`` and ``tokens.txt`` to
``output_dir/<name of the pretrained token dir>/``; ``--pretrained_model none --nbpe 300``
trains ``output_dir/bpe_unigram300/`` on ``--check_text`` instead. Either prints that dir.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.owsm.symbols import SPECIAL_SYMBOL, ST_PREFIX, has_prefix, parse_target
from espnet_dynprune.owsm.token_layout import owsm_special_symbols, owsm_token_list
from espnet_dynprune.zoo.model_zoo import ModelZooDir, ModelZooError

PathLike = Union[str, Path]
#: ``--pretrained_model none``: no pretrained model, train a new token list.
NO_PRETRAINED = "none"


def check_symbols(text_file: PathLike, tokens: Sequence[str]) -> int:
    """Raise if a ``<...>`` symbol in ``text_file`` (OWSM ``text``) is not a token; return lines read."""
    known = set(tokens)
    missing: dict = {}
    texts = read_map(text_file)
    for utt, text in texts.items():
        for symbol in SPECIAL_SYMBOL.findall(text):
            if symbol not in known:
                missing.setdefault(symbol, utt)
    if missing:
        listed = ", ".join(f"{s} (first in {u})" for s, u in sorted(missing.items()))
        raise ValueError(f"{text_file} uses symbols that are not in the pretrained token list: {listed}")
    return len(texts)


def copy_token_list(pretrained_model: PathLike, output_dir: PathLike, check_text: Optional[PathLike] = None) -> Path:
    """Copy the pretrained ``bpe.model`` and ``tokens.txt``; optionally check a text file's symbols."""
    zoo = ModelZooDir.load(pretrained_model)
    if zoo.bpemodel is None:
        raise ModelZooError(f"{zoo.config} has no bpemodel: this recipe expects an OWSM BPE model")
    tokens: List[str] = zoo.tokens()
    name = zoo.token_list.parent.name if zoo.token_list is not None else zoo.bpemodel.parent.name
    out = Path(output_dir) / name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(zoo.bpemodel, out / "bpe.model")
    (out / "tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    if check_text is not None:
        check_symbols(check_text, tokens)
    return out


@dataclass(frozen=True)
class TokenListPaths:
    """Where :func:`train_token_list` put its outputs."""

    bpemodel: Path
    tokens: Path
    nlsyms: Path


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
) -> TokenListPaths:
    """Train ``out_dir/bpe.model`` on ``text_lines`` and write ``tokens.txt`` and ``nlsyms.txt``.

    ``text_lines`` are the *contents* of a Kaldi ``text`` file (utt ids stripped), special
    tokens included, exactly what s2t.sh feeds spm. ``num_pieces`` counts learned pieces only
    (the ~1500 special symbols and ``<unk> <s> </s>`` come on top); it is a soft limit, since a
    tiny corpus may not support that many pieces.
    """
    import sentencepiece as spm

    if num_pieces < 10:
        raise ValueError(f"num_pieces={num_pieces} is too small; use at least 10")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specials = owsm_special_symbols(langs, tasks)
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
    tokens.write_text("\n".join(owsm_token_list(vocab[3:])) + "\n", encoding="utf-8")
    return TokenListPaths(bpemodel=prefix.with_suffix(".model"), tokens=tokens, nlsyms=nlsyms)



def _languages_and_tasks(texts: Mapping[str, str]) -> Tuple[List[str], List[str]]:
    """Languages (spoken and translated into) and tasks named by OWSM ``<lang><task>`` prefixes.

    ``texts``: where -> text line. Lines without a prefix are skipped; a prefix that is not
    ``<lang><asr|st_xxx>`` raises naming where it is.
    """
    langs, tasks = {}, {}
    for where, line in texts.items():
        if has_prefix(line):
            target = parse_target(line, where)
            langs[target.language] = tasks[target.task] = None
            if target.task.startswith(ST_PREFIX):
                langs[target.task[len(ST_PREFIX):]] = None
    return sorted(langs), sorted(tasks)


def train_from_text(text_files: Sequence[PathLike], out_dir: PathLike, num_pieces: int) -> TokenListPaths:
    """Train a token list on Kaldi ``text`` files for the languages and tasks they name."""
    texts = {f"{path}: {utt}": text for path in text_files for utt, text in read_map(path).items()}
    langs, tasks = _languages_and_tasks(texts)
    if not langs:
        raise ValueError(f"{[str(p) for p in text_files]}: no line starts with an OWSM <lang><task> prefix")
    return train_token_list(texts.values(), out_dir, langs=langs, tasks=tasks, num_pieces=num_pieces)
