"""The OWSM target grammar: format and parse round trip, one language/task rule, clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from espnet_dynprune.owsm import symbols
from espnet_dynprune.owsm.symbols import OwsmTarget, format_target, parse_target


def test_format_and_parse_round_trip() -> None:
    line = format_target("fra", "st_eng", "  the council votes ")
    assert line == "<fra><st_eng><notimestamps> the council votes"
    assert parse_target(line) == OwsmTarget("fra", "st_eng", "the council votes")
    assert parse_target("<deu><asr> ohne zeitmarken") == OwsmTarget("deu", "asr", "ohne zeitmarken")
    assert parse_target("<deu><asr><0.00> hallo<1.20>").text == "<0.00> hallo<1.20>"


def test_symbols_and_their_names() -> None:
    assert symbols.symbol("fra") == symbols.symbol("<fra>") == "<fra>"
    assert symbols.symbol_name("<st_eng>") == symbols.symbol_name("st_eng") == "st_eng"
    stamps = symbols.timestamp_symbols()
    assert (len(stamps), stamps[0], stamps[1], stamps[-1]) == (1501, "<0.00>", "<0.02>", "<30.00>")


@pytest.mark.parametrize("code, ok", [("fra", True), ("en", False), ("FRA", False), ("fra1", False), ("", False)])
def test_one_language_rule_for_languages_and_translation_targets(code: str, ok: bool) -> None:
    assert symbols.is_language_code(code) is ok
    assert symbols.is_task_name(f"st_{code}") is ok
    assert symbols.is_task_name("asr") and not symbols.is_task_name("st") and not symbols.is_task_name("mt")


def test_errors_name_the_value_and_where_it_is() -> None:
    with pytest.raises(ValueError, match=r"Utterance u1: lang='fr' is not an ISO 639-3 code"):
        symbols.check_language("fr", "Utterance u1: lang")
    with pytest.raises(ValueError, match=r"--task='st' must be 'asr' or 'st_xxx'"):
        symbols.check_task("st", "--task")
    with pytest.raises(ValueError, match=r"task='translate'"):
        format_target("fra", "translate", "x")
    with pytest.raises(ValueError, match=r"text: u7 does not start with an OWSM <lang><task> prefix.*'hello'"):
        parse_target("hello", "text: u7")
    with pytest.raises(ValueError, match=r"text: u8: <en><st_en> is not <ISO 639-3 language><asr or st_xxx>"):
        parse_target("<en><st_en><notimestamps> hi", "text: u8")


def test_prefix_detection_and_special_symbols() -> None:
    assert symbols.has_prefix("<fra><asr> x") and symbols.has_prefix("<en><xx>")
    assert not symbols.has_prefix("plain <fra><asr>") and not symbols.has_prefix("<fra> <asr>")
    assert symbols.SPECIAL_SYMBOL.findall("<fra><asr><notimestamps> a <0.00>b") == [
        "<fra>", "<asr>", "<notimestamps>", "<0.00>"]


def test_the_package_does_not_import_torch() -> None:
    code = ("import sys, espnet_dynprune.owsm.datadir, espnet_dynprune.owsm.token_layout; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
