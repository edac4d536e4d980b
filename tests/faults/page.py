"""The reliability page's fault table, generated from :func:`tests.faults.test_faults.faults`.

``python -m tests.faults.page`` (from the repository root) rewrites the table between the
``<!-- fault table -->`` markers of docs/reliability.md; ``test_page.py`` fails while the page
and the rows the suite runs disagree, so the page never claims a row the tests do not check.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Sequence

from tests.faults.test_faults import Fault, faults

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
MARKED = re.compile(r"(<!-- fault table -->\n).*?(<!-- /fault table -->)", re.S)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def table(rows: Sequence[Fault]) -> str:
    """One Markdown row per fault: what goes wrong, where it is met, what happens (and what is not run)."""
    lines = ["| input or fault | stage / API | outcome |", "|---|---|---|"]
    for f in rows:
        outcome = f.outcome
        if f.xfail:
            outcome += f" (does not hold yet: {f.xfail})"
        if f.note:
            outcome += f" ({f.note})"
        lines.append(f"| {_cell(f.input)} | {_cell(f.stage)} | {_cell(outcome)} |")
    return "\n".join(lines)


def render(text: str) -> str:
    """``text`` with its fault table made anew from the rows."""
    if not MARKED.search(text):
        raise ValueError(f"{PAGE}: no '<!-- fault table -->' ... '<!-- /fault table -->' block")
    return MARKED.sub(lambda m: f"{m.group(1)}{table(faults())}\n{m.group(2)}", text)


if __name__ == "__main__":
    old = PAGE.read_text(encoding="utf-8")
    new = render(old)
    PAGE.write_text(new, encoding="utf-8")
    print(f"{PAGE}: {'rendered' if new != old else 'already current'}", file=sys.stderr)
