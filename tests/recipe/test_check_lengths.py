"""The check_lengths stage: the longest utterance of the dump dirs printed, or the one too long for the config named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from espnet_dynprune.recipe import check_lengths as check_lengths_command


def dump_dir(path: Path, samples: dict) -> Path:
    """A dump dir's ``utt2num_samples`` (what stage 3 writes)."""
    path.mkdir(parents=True)
    (path / "utt2num_samples").write_text("".join(f"{u} {n}\n" for u, n in samples.items()), encoding="utf-8")
    return path


def config(path: Path, preprocessor_conf: dict) -> Path:
    path.write_text(yaml.safe_dump({"preprocessor_conf": preprocessor_conf}), encoding="utf-8")
    return path


def test_prints_the_longest_utterance_of_all_the_dirs(tmp_path, capsys):
    train = dump_dir(tmp_path / "train", {"a": 16000, "b": 24000})
    dev = dump_dir(tmp_path / "dev", {"c": 40000})
    conf = config(tmp_path / "c.yaml", {"speech_length": 3.0, "fs": 16000})
    check_lengths_command.main(["--config", str(conf), "--data_dirs", str(train), str(dev)])
    assert capsys.readouterr().out == "longest utterance: 2.50 s\n"


def test_the_sample_rate_of_the_config_is_used(tmp_path, capsys):
    train = dump_dir(tmp_path / "train", {"a": 24000})
    check_lengths_command.main(["--config", str(config(tmp_path / "c.yaml", {"speech_length": 3.0, "fs": 8000})),
                                "--data_dirs", str(train)])
    assert capsys.readouterr().out == "longest utterance: 3.00 s\n"


def test_an_utterance_longer_than_the_config_s_speech_length_is_named(tmp_path, capsys):
    train = dump_dir(tmp_path / "train", {"a": 16000})
    dev = dump_dir(tmp_path / "dev", {"long_one": 40000, "b": 100})
    conf = config(tmp_path / "c.yaml", {"speech_length": 2.0})
    with pytest.raises(ValueError, match=r"dev: long_one lasts 2.50 s, longer than speech_length=2.0 in .*c.yaml; "
                                         r"raise it or drop long utterances \(run.sh --max_wav_duration\)"):
        check_lengths_command.main(["--config", str(conf), "--data_dirs", str(train), str(dev)])
    assert capsys.readouterr().out == ""


def test_a_config_without_speech_length_and_an_empty_dump_dir_are_named(tmp_path):
    train = dump_dir(tmp_path / "train", {})
    with pytest.raises(ValueError, match=r"c.yaml: preprocessor_conf.speech_length is not set"):
        check_lengths_command.main(["--config", str(config(tmp_path / "c.yaml", {"fs": 16000})),
                                    "--data_dirs", str(train)])
    with pytest.raises(ValueError, match=r"train/utt2num_samples is empty"):
        check_lengths_command.main(["--config", str(config(tmp_path / "d.yaml", {"speech_length": 30})),
                                    "--data_dirs", str(train)])


def test_both_arguments_are_required(capsys):
    with pytest.raises(SystemExit):
        check_lengths_command.main(["--config", "c.yaml"])
    assert "the following arguments are required: --data_dirs" in capsys.readouterr().err
