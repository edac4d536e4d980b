"""The VoxForge add-on from the command line: a rerun with the same arguments changes nothing."""

from __future__ import annotations

from pathlib import Path

from espnet_dynprune.recipe import synthetic_voxforge as synthetic_voxforge_command


def test_a_matching_rerun_is_a_no_op(voxforge_corpus: Path) -> None:
    corpus = voxforge_corpus
    wav = next((corpus / "voxforge" / "fr").rglob("*.wav"))
    stamp = wav.stat().st_mtime_ns
    again = synthetic_voxforge_command.main(["--corpus", str(corpus), "--langs", "fr,it", "--speakers", "3",
                                             "--sessions", "2", "--prompts", "2", "--num_workers", "2"])
    assert wav.stat().st_mtime_ns == stamp and again["counts"]["fr"]["prompts"] == 12
