"""The package's rooms import only the rooms below them (the layout table of docs/architecture.md).

Bottom to top: ``gating`` (pure PyTorch), ``owsm`` (the OWSM format, torch-free) and ``whisper``
(Whisper's weight formats, pure PyTorch); ``nets``
(ESPnet-facing modules), ``static`` (static structured pruning: masks, distillation, export)
and ``registration``; ``corpora`` (real corpus layouts) and ``data``
(synthetic speech in those layouts); ``zoo`` (model-zoo dirs, configs, token lists);
``analysis``; ``recipe`` (which may use analysis and the corpora's audio reading); ``bin`` (entry points) on top. Imports inside functions count too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "espnet_dynprune"
ALLOWED = {
    "gating": set(),
    "owsm": set(),
    "whisper": set(),
    "nets": {"gating", "owsm"},
    "static": {"gating", "owsm", "nets"},
    "registration": {"nets", "static"},
    "_import_hook": {"registration"},
    "corpora": {"owsm"},
    "data": {"owsm", "corpora"},
    "zoo": {"owsm", "nets", "static", "registration"},
    "analysis": {"gating", "owsm", "nets", "static", "registration", "zoo"},
    "recipe": {"gating", "owsm", "nets", "static", "registration", "zoo", "analysis", "corpora"},
    "bin": {"gating", "owsm", "whisper", "nets", "static", "registration", "zoo", "analysis", "recipe"},
}


def room_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_rooms(path: Path) -> set:
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "espnet_dynprune" and len(parts) > 1:
                rooms.add(parts[1])
    return rooms


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_rooms_below_its_own(path):
    room = room_of(path)
    assert room in ALLOWED, f"{room}: a room the layout does not name"
    above = imported_rooms(path) - ALLOWED[room] - {room}
    assert not above, f"{path.relative_to(PACKAGE)} ({room}) imports {sorted(above)}"
