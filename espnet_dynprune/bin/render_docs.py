"""``python -m espnet_dynprune.bin.render_docs``: re-render the docs' tables from the committed JSON.

Run from the repository root after a benchmark wrote new JSON; ``--check`` changes nothing and
exits 1 naming each page whose tables are not what its JSON says (the test suite runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from espnet_dynprune.analysis.doc_tables import fill


def stale_pages(pages: List[Path], root: Path, write: bool) -> List[Path]:
    """The pages whose marked tables differ from a fresh rendering (rewritten when ``write``)."""
    stale = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        fresh = fill(text, root, where=str(page))
        if fresh != text:
            stale.append(page)
            if write:
                page.write_text(fresh, encoding="utf-8")
    return stale


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*", type=Path, help="Markdown pages (default: docs/*.md under --root)")
    parser.add_argument("--root", type=Path, default=Path("."), help="where the JSON paths of the markers start")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a page is stale")
    args = parser.parse_args(argv)
    pages = args.pages or sorted((args.root / "docs").glob("*.md"))
    stale = stale_pages(pages, args.root, write=not args.check)
    for page in stale:
        print(f"{page}: {'stale: run python -m espnet_dynprune.bin.render_docs' if args.check else 'rendered'}")
    if args.check and stale:
        sys.exit(1)


if __name__ == "__main__":
    main()
