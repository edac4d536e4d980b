"""The record kept beside every measurement."""

import subprocess

import pytest

from espnet_dynprune.analysis import environment


def test_the_record_names_releases_machine_and_commit():
    record = environment.machine()
    assert record["espnet"] in ("202511", "202611") and record["torch"].startswith("2.")
    assert record["cpu"] and record["threads"] >= 1 and record["gpu"] is None
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=environment.PACKAGE_ROOT, capture_output=True, text=True)
    if head.returncode:
        pytest.skip(f"git cannot read this checkout: {head.stderr.strip()}")
    # the commit of the code that ran, marked when the package's files differ from it
    assert record["commit"].removesuffix("+dirty") == head.stdout.strip()[:12]


def test_outside_a_checkout_the_commit_is_none(monkeypatch, tmp_path):
    monkeypatch.setattr(environment, "PACKAGE_ROOT", tmp_path)
    assert environment.commit() is None
