"""The package's rooms import only the rooms below them (the layout table of docs/architecture.md).

Bottom to top: ``gating`` (pure PyTorch), ``owsm`` (the OWSM format, torch-free) and ``whisper``
(Whisper's weight formats, pure PyTorch); ``nets`` (what the ESPnet-facing networks share),
``nets.layers`` (one layer under gates, under masks, or rebuilt smaller), ``nets.encoder`` and
``nets.decoder`` (the variants users put in a config), ``models``, ``inference`` and
``registration``; ``corpora`` (real corpus layouts) and ``data`` (synthetic speech in those
layouts); ``zoo`` (model-zoo dirs, configs, token lists); ``analysis``; ``recipe`` (which may use
analysis and the corpora's audio reading); ``bin`` (entry points) on top. Imports inside functions
count too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "espnet_dynprune"
NETS = {"nets", "nets.layers", "nets.encoder", "nets.decoder"}
ESPNET_FACING = {"gating", "owsm", "whisper", *NETS, "models", "inference", "registration"}
ALLOWED = {
    "gating": set(),
    "owsm": set(),
    "whisper": set(),
    "nets": {"gating", "owsm"},
    "nets.layers": {"gating", "owsm", "nets"},
    "nets.encoder": {"gating", "owsm", "whisper", "nets", "nets.layers"},
    "nets.decoder": {"gating", "owsm", "whisper", "nets", "nets.layers"},
    "models": {"gating", "owsm", *NETS},
    "inference": {"gating", "owsm", *NETS, "models"},
    "registration": {*NETS, "models", "inference"},
    "logs": set(),
    "_import_hook": {"registration"},
    "corpora": {"owsm"},
    "data": {"owsm", "corpora"},
    "zoo": {"owsm", *NETS, "models", "inference", "registration"},
    "analysis": {*ESPNET_FACING - {"whisper"}, "zoo"},
    "recipe": {*ESPNET_FACING - {"whisper"}, "zoo", "analysis", "corpora", "data"},
    "bin": {*ESPNET_FACING, "zoo", "analysis", "recipe"},
}


def room_named(parts: tuple[str, ...]) -> str:
    """``nets.encoder`` for ``nets/encoder/...``, else the first part (``nets`` for ``nets/x.py``)."""
    if parts[0] == "nets" and len(parts) > 2 and parts[1] in ("layers", "encoder", "decoder"):
        return f"nets.{parts[1]}"
    return parts[0].removesuffix(".py")


def room_of(path: Path) -> str:
    return room_named(path.relative_to(PACKAGE).parts)


def imported_rooms(path: Path) -> set:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "espnet_dynprune" and len(parts) > 1:
                rooms.add(room_named(tuple(parts[1:])))
    return rooms


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_rooms_below_its_own(path):
    room = room_of(path)
    assert room in ALLOWED, f"{room}: a room the layout does not name"
    above = imported_rooms(path) - ALLOWED[room] - {room, "logs"}  # one log format, for every command
    assert not above, f"{path.relative_to(PACKAGE)} ({room}) imports {sorted(above)}"


COMMAND_ROOMS = ("bin", "recipe")  # user commands and recipe stages; library rooms have no entry point


@pytest.mark.parametrize("path", [p for p in MODULES if room_of(p) not in COMMAND_ROOMS],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_modules_have_no_entry_point(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mains = [node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)]
    assert not mains, f"{path.relative_to(PACKAGE)}: a command belongs in bin/ (or a recipe stage in recipe/)"
