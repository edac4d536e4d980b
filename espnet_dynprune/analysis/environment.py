"""Where and with what a number was measured, recorded beside it.

A speed or accuracy number without its environment cannot be compared with the next one: every
benchmark report and every grid result keeps this record (releases, machine, threads and the
commit of the code that ran, marked ``+dirty`` when the checkout had uncommitted changes).
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import torch

from espnet_dynprune.nets.espnet_compat import ESPNET_VERSION

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def commit() -> Optional[str]:
    """The git commit of the checkout the package runs from (None when it is installed, not checked out)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "espnet_dynprune")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine(device: str = "cpu") -> Dict[str, object]:
    """The record kept beside a measurement."""
    return {"platform": platform.platform(), "cpu": cpu_model(), "threads": torch.get_num_threads(),
            "python": sys.version.split()[0], "torch": torch.__version__, "espnet": ESPNET_VERSION,
            "gpu": torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else None,
            "commit": commit()}
