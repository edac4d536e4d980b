"""The one log format: ESPnet's own, set up on stderr by configure_logging at the level asked, once."""

from __future__ import annotations

import importlib.util
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from espnet_dynprune.logs import FORMAT, configure_logging

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \(test_logs:\d+\) (INFO|WARNING|DEBUG): (.*)$")


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as a fresh interpreter has it (no handler, WARNING; pytest's own handlers
    taken off for the while), restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_format_is_the_one_espnet_s_inference_command_writes():
    source = Path(importlib.util.find_spec("espnet2.bin.s2t_inference").origin).read_text(encoding="utf-8")
    assert f'format="{FORMAT}"' in source


def test_a_record_reads_time_module_line_level_and_message():
    record = logging.LogRecord("espnet_dynprune.recipe.stage", logging.WARNING, "/x/stage.py", 12, "kept %d", (3,),
                               None)
    line = logging.Formatter(FORMAT).format(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \(stage:12\) WARNING: kept 3", line), line


def test_info_and_above_go_to_stderr_in_the_format(capsys):
    with bare_root():
        configure_logging()
        logging.info("written %s", "RESULTS.md")
        logging.debug("not shown")
        logging.getLogger("espnet_dynprune.recipe").warning("a child logger too")
    out, err = capsys.readouterr()
    assert out == ""
    matches = [LINE.match(line) for line in err.splitlines()]
    assert all(matches), err
    assert [(m.group(1), m.group(2)) for m in matches] == [("INFO", "written RESULTS.md"),
                                                          ("WARNING", "a child logger too")]


def test_a_second_call_changes_nothing(capsys):
    with bare_root() as root:
        configure_logging(logging.WARNING)
        logging.info("not shown")
        configure_logging(logging.DEBUG)  # the first call's setup stands: no second handler, no new level
        logging.warning("shown once")
        logging.debug("not shown either")
        handlers, level = len(root.handlers), root.level
    err = capsys.readouterr().err
    assert handlers == 1 and level == logging.WARNING
    assert [LINE.match(line).group(2) for line in err.splitlines()] == ["shown once"]


def test_a_debug_level_shows_debug(capsys):
    with bare_root():
        configure_logging(logging.DEBUG)
        logging.debug("details")
    assert [LINE.match(line).groups() for line in capsys.readouterr().err.splitlines()] == [("DEBUG", "details")]
