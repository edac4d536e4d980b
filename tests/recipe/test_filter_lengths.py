"""The filter_lengths stage (4): a dump dir less its too short and too long utterances, each reason in the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from espnet_dynprune.owsm.datadir import read_map
from espnet_dynprune.recipe import filter_lengths as filter_lengths_command

SECONDS = {"spk-short": 0.05, "spk-ok": 1.0, "spk-edge": 2.0, "spk-long": 3.0}


def org_dump(path: Path, sample_rate: int = 16000) -> Path:
    """What stage 3 writes into dump/raw/org/<set> (the wavs themselves are not read)."""
    path.mkdir(parents=True)
    files = {
        "wav.scp": {u: f"/audio/{u}.wav" for u in SECONDS},
        "utt2num_samples": {u: str(int(s * sample_rate)) for u, s in SECONDS.items()},
        "text": {u: f"<fra><asr><notimestamps> {u}" for u in SECONDS},
        "utt2spk": {u: "spk" for u in SECONDS},
    }
    for name, lines in files.items():
        (path / name).write_text("".join(f"{u} {v}\n" for u, v in lines.items()), encoding="utf-8")
    return path


def test_keeps_the_utterances_within_the_limits_and_logs_each_reason(tmp_path, caplog):
    org = org_dump(tmp_path / "org")
    with caplog.at_level(logging.WARNING):
        filter_lengths_command.main(["--in_dir", str(org), "--out_dir", str(tmp_path / "train"),
                                     "--min_duration", "0.1", "--max_duration", "2.0"])
    out = tmp_path / "train"
    assert read_map(out / "wav.scp") == {"spk-ok": "/audio/spk-ok.wav", "spk-edge": "/audio/spk-edge.wav"}
    assert read_map(out / "utt2num_samples") == {"spk-ok": "16000", "spk-edge": "32000"}
    assert read_map(out / "text") == {"spk-ok": "<fra><asr><notimestamps> spk-ok",
                                      "spk-edge": "<fra><asr><notimestamps> spk-edge"}
    assert read_map(out / "spk2utt") == {"spk": "spk-edge spk-ok"}
    assert (out / "feats_type").read_text() == "raw\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"skipped 1 of 4 utterances of {org}: shorter than min_duration=0.1 s (first: spk-short (0.05 s))",
        f"skipped 1 of 4 utterances of {org}: longer than max_duration=2.0 s (first: spk-long (3.00 s))",
    ]


def test_the_defaults_and_another_sample_rate(tmp_path):
    org = org_dump(tmp_path / "org", sample_rate=8000)
    filter_lengths_command.main(["--in_dir", str(org), "--out_dir", str(tmp_path / "a")])  # 0.1-30 s at 16 kHz
    assert sorted(read_map(tmp_path / "a" / "wav.scp")) == ["spk-edge", "spk-long", "spk-ok"]  # all halved
    filter_lengths_command.main(["--in_dir", str(org), "--out_dir", str(tmp_path / "b"), "--sample_rate", "8000",
                                 "--max_duration", "2.5"])
    assert sorted(read_map(tmp_path / "b" / "wav.scp")) == ["spk-edge", "spk-ok"]


@pytest.mark.parametrize("limits, message", [
    (["--min_duration", "5", "--max_duration", "9"], r"no utterance of .*org is 5.0-9.0 s long"),
    (["--min_duration", "2", "--max_duration", "1"], r"need 0 <= min_duration < max_duration and sample_rate > 0"),
])
def test_limits_that_keep_nothing_or_make_no_sense_are_refused(tmp_path, limits, message):
    org = org_dump(tmp_path / "org")
    with pytest.raises(ValueError, match=message):
        filter_lengths_command.main(["--in_dir", str(org), "--out_dir", str(tmp_path / "train"), *limits])
    assert not (tmp_path / "train").exists()
