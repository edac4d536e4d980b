"""Input checks shared by the corpus readers: corpus roots, and counted, logged skips.

Real corpora have a few bad items (empty transcripts, missing audio); dropping them is fine, but
never silently: every reader counts what it drops per reason and logs one line per reason with
the total and the first example, so a surprising loss shows up in the stage log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Tuple, Union

logger = logging.getLogger(__name__)


def require_root(root: Union[str, Path], corpus: str, db_var: str) -> Path:
    """``root`` as an absolute Path (wav.scp must work from any directory); a missing dir raises
    naming the root and the db.sh variable."""
    path = Path(root)
    if not path.is_dir():
        raise FileNotFoundError(
            f"{corpus} root {str(path)!r} is not a directory; set {db_var} in db.sh to the corpus root"
        )
    return path.absolute()


@dataclass
class Skips:
    """Dropped items of one batch (``what``, e.g. "segments of fr/en/train"), per reason."""

    what: str
    by_reason: Dict[str, Tuple[int, str]] = field(default_factory=dict)

    def add(self, reason: str, example: str, count: int = 1) -> None:
        """Record ``count`` items dropped for ``reason``; the first example is kept for the log."""
        n, first = self.by_reason.get(reason, (0, example))
        self.by_reason[reason] = (n + count, first)

    @property
    def count(self) -> int:
        return sum(n for n, _ in self.by_reason.values())

    def log(self, total: int) -> None:
        """One warning per reason: ``skipped 3 of 120 segments of fr/en/train: <reason> (first: ..)``."""
        for reason, (n, first) in self.by_reason.items():
            logger.warning("skipped %d of %d %s: %s (first: %s)", n, total, self.what, reason, first)
