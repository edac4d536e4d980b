"""Stage 3 from the command line: the dump is the same whatever the number of worker processes."""

from __future__ import annotations

from pathlib import Path

from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.recipe import format_audio as format_audio_command
from tests.builders.corpus_files import needs_ffmpeg, write_format_audio_cases


@needs_ffmpeg
def test_workers_give_the_same_dump(tmp_path: Path) -> None:
    in_dir = write_format_audio_cases(tmp_path)
    format_audio_command.main(["--in_dir", str(in_dir), "--out_dir", str(tmp_path / "one"), "--nj", "1"])
    format_audio_command.main(["--in_dir", str(in_dir), "--out_dir", str(tmp_path / "two"), "--nj", "2"])
    one, two = (read_map(tmp_path / d / "utt2num_samples") for d in ("one", "two"))
    assert one == two and len(one) == 4
