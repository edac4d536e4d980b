"""The OWSM token-list layout: special symbols in order, languages and tasks read by position."""

from __future__ import annotations

import pytest

from espnet_dynprune.owsm.symbols import timestamp_symbols
from espnet_dynprune.owsm.token_layout import ContextSymbols, context_symbols, owsm_special_symbols, owsm_token_list

V31 = owsm_token_list([*owsm_special_symbols(["deu", "eng", "fra"], ["st_eng", "st_deu"]), "▁a", "<b>"])
#: OWSM v1 names languages with two letters.
V1 = ["<blank>", "<unk>", "<na>", "<nospeech>", "<en>", "<ja>", "<asr>", "<st_en>", "<st_ja>", "<notimestamps>",
      "<0.00>", "<30.00>", "▁a", "<sos>", "<eos>", "<sop>"]


def test_special_symbols_and_the_whole_list_follow_owsm_order() -> None:
    specials = owsm_special_symbols(["fra", "deu", "fra"], ["st_eng"])
    assert specials[:7] == ["<na>", "<nospeech>", "<fra>", "<deu>", "<asr>", "<st_eng>", "<notimestamps>"]
    assert specials[7:] == timestamp_symbols()
    assert V31[:2] == ["<blank>", "<unk>"] and V31[-3:] == ["<sos>", "<eos>", "<sop>"]
    with pytest.raises(ValueError, match="lang='en' is not an ISO 639-3 code"):
        owsm_special_symbols(["en"])


def test_v31_and_v1_lists_give_their_languages_and_tasks() -> None:
    assert context_symbols(V31) == ContextSymbols(("<deu>", "<eng>", "<fra>"), ("<asr>", "<st_eng>", "<st_deu>"))
    assert context_symbols(V1) == ContextSymbols(("<en>", "<ja>"), ("<asr>", "<st_en>", "<st_ja>"))
    without_nospeech = [t for t in V1 if t != "<nospeech>"]
    assert context_symbols(without_nospeech).languages == ("<en>", "<ja>")


def test_a_list_without_asr_has_none_and_a_broken_layout_is_named() -> None:
    assert context_symbols(["<blank>", "<unk>", "a", "b", "<sos/eos>"]) == ContextSymbols((), ())
    with pytest.raises(ValueError, match=r"tokens.txt: <asr> \(id 2\) is not preceded by <na> or <nospeech>"):
        context_symbols(["<blank>", "<fra>", "<asr>"], "tokens.txt")
    with pytest.raises(ValueError, match=r"no language symbols between <nospeech> \(id 3\) and <asr> \(id 4\)"):
        context_symbols(["<blank>", "<unk>", "<na>", "<nospeech>", "<asr>"])
    with pytest.raises(ValueError, match=r"token 4 'fra', between <nospeech> and <asr>, is not a <language>"):
        context_symbols(["<blank>", "<unk>", "<na>", "<nospeech>", "fra", "<asr>"])
