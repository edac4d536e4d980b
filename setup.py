"""Packaging for espnet-dynprune (import name ``espnet_dynprune``).

Besides the package itself, every kind of installation puts the file
``espnet_dynprune.pth`` (kept at the repository root) into site-packages.  Its
one ``import`` line installs the lazy auto-registration hook of
``espnet_dynprune/_import_hook.py`` at interpreter start-up, without
importing torch or espnet.

How the ``.pth`` gets there:

* ``pip install .`` (regular wheel, ``bdist_wheel``): :class:`build_py`
  copies the file to the root of ``build_lib``; whatever lies there goes to
  the root of the wheel, i.e. straight into site-packages, and is listed in
  the wheel's RECORD (so ``pip uninstall`` removes it again).
* ``pip install -e .`` (PEP 660 editable wheel, setuptools >= 64): setuptools
  builds editable wheels with its ``editable_wheel`` command, which does not
  ship ``build_lib``.  :class:`editable_wheel` wraps the strategy object that
  writes the editable wheel's own files (``__editable__.*.pth`` and finder)
  so that ``espnet_dynprune.pth`` is written into the same wheel, also with
  a RECORD entry.
"""

import os
import re

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py as _build_py

try:  # setuptools >= 64 (PEP 660)
    from setuptools.command.editable_wheel import editable_wheel as _editable_wheel
except ImportError:  # pragma: no cover - older setuptools cannot do PEP 660
    _editable_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))
PTH_NAME = "espnet_dynprune.pth"
PTH_SOURCE = os.path.join(HERE, PTH_NAME)


def _read_version():
    path = os.path.join(HERE, "espnet_dynprune", "__init__.py")
    with open(path, encoding="utf-8") as f:
        match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', f.read(), re.M)
    if not match:
        raise RuntimeError(f"__version__ not found in {path}")
    return match.group(1)


def _read_pth():
    with open(PTH_SOURCE, "rb") as f:
        return f.read()


class build_py(_build_py):
    """build_py that also puts ``espnet_dynprune.pth`` at the root of build_lib."""

    def _ships_pth(self):
        # In editable mode build_lib is a throw-away directory; the editable
        # wheel gets the .pth from `editable_wheel` below instead.
        return not getattr(self, "editable_mode", False)

    def run(self):
        super().run()
        if self._ships_pth():
            self.copy_file(PTH_SOURCE, os.path.join(self.build_lib, PTH_NAME))

    def get_outputs(self, include_bytecode=1):
        outputs = list(super().get_outputs(include_bytecode))
        if self._ships_pth():
            outputs.append(os.path.join(self.build_lib, PTH_NAME))
        return outputs


cmdclass = {"build_py": build_py}

if _editable_wheel is not None:

    class _StrategyWithPth:
        """Wraps setuptools' editable strategy; also writes our .pth."""

        def __init__(self, strategy):
            self._strategy = strategy

        def __enter__(self):
            self._strategy.__enter__()
            return self

        def __exit__(self, *exc_info):
            return self._strategy.__exit__(*exc_info)

        def __call__(self, wheel, files, mapping):
            self._strategy(wheel, files, mapping)
            wheel.writestr(PTH_NAME, _read_pth())

    class editable_wheel(_editable_wheel):
        """editable_wheel that also ships ``espnet_dynprune.pth``."""

        def run(self):
            if not hasattr(_editable_wheel, "_select_strategy"):  # pragma: no cover
                raise RuntimeError(
                    "espnet-dynprune: this setuptools has no "
                    "editable_wheel._select_strategy, so espnet_dynprune.pth "
                    "cannot be added to the editable wheel; build with "
                    "setuptools>=64,<74 (see pyproject.toml)"
                )
            super().run()

        def _select_strategy(self, *args, **kwargs):
            return _StrategyWithPth(super()._select_strategy(*args, **kwargs))

    cmdclass["editable_wheel"] = editable_wheel


setup(
    name="espnet-dynprune",
    version=_read_version(),
    description="Dynamic (input-dependent) pruning plugin for ESPnet",
    python_requires=">=3.11",
    packages=find_namespace_packages(
        include=["espnet_dynprune", "espnet_dynprune.*"],
        exclude=["*.__pycache__", "*.__pycache__.*"],
    ),
    package_data={"": ["*.yaml", "*.yml", "*.json"]},
    include_package_data=True,
    install_requires=[
        "espnet==202511",
        "torch==2.11.0",
        "torchaudio==2.11.0",
        "fvcore",
        "jiwer",
        "sacrebleu",
        "sentencepiece",
        "tensorboard",
        "matplotlib",
        "typeguard",
    ],
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": [
        "espnet-dynprune-bench=espnet_dynprune.bin.bench:main",
        "espnet-dynprune-static-bench=espnet_dynprune.bin.static_bench:main",
        "espnet-dynprune-export-pruned=espnet_dynprune.bin.export_pruned:main",
    ]},
    cmdclass=cmdclass,
    zip_safe=False,
)
