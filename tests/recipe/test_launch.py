"""The Kaldi-compatible launcher: argument parsing, local job arrays, sbatch command lines (the real
scheduler runs them in test_launch_slurm.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from espnet_dynprune.recipe.launch import exit_code, main, parse, sbatch_command

PY = sys.executable


def test_parse_options_range_log_and_command() -> None:
    spec = parse(["--backend", "slurm", "--gpu", "2", "--mem=8G", "JOB=1:3", "log/x.JOB.log", "echo", "--job", "JOB"])
    assert (spec.backend, spec.options, spec.var, spec.first, spec.last) == ("slurm", {"gpu": "2", "mem": "8G"}, "JOB", 1, 3)
    assert spec.log == "log/x.JOB.log" and spec.command == ["echo", "--job", "JOB"]
    assert spec.substitute("out.JOB/decode_JOB", 2) == "out.2/decode_2"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backend", "pbs", "log", "true"], "'pbs'"),
        (["JOB=3:1", "log", "true"], "JOB=3:1"),
        (["log"], "expected a log file and a command"),
        (["--gpu"], "--gpu has no value"),
    ],
)
def test_parse_errors_name_the_argument(argv, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse(argv)


def test_local_runs_every_job_with_its_index_and_logs(tmp_path: Path) -> None:
    code = main(["--max_jobs_run", "2", "JOB=1:3", f"{tmp_path}/log.JOB.txt",
                 PY, "-c", f"open('{tmp_path}/out.JOB', 'w').write('JOB')"])  # fmt: skip
    assert code == 0
    assert [(tmp_path / f"out.{i}").read_text() for i in (1, 2, 3)] == ["1", "2", "3"]
    log = (tmp_path / "log.2.txt").read_text()
    assert log.startswith("# ") and "out.2" in log and "# Ended (code 0)" in log


def test_local_failure_is_reported_with_the_log(tmp_path: Path, capsys) -> None:
    code = main(["JOB=1:2", f"{tmp_path}/log.JOB", PY, "-c", "import sys; sys.exit(JOB - 1)"])
    assert code == 1
    assert f"{tmp_path}/log.2" in capsys.readouterr().err
    assert "# Ended (code 1)" in (tmp_path / "log.2").read_text()


def test_espnet_launch_single_node_call_shape(tmp_path: Path) -> None:
    # espnet2.bin.launch appends: --gpu N LOG command...
    code = main(["--gpu", "0", f"{tmp_path}/train.log", PY, "-c", "print('trained')"])
    assert code == 0 and "trained" in (tmp_path / "train.log").read_text()


def test_sbatch_command_is_an_array_with_quoted_words() -> None:
    spec = parse(["--backend", "slurm", "--gpu", "1", "--mem", "4G", "--max_jobs_run", "2",
                  "JOB=1:4", "exp/log/dec.JOB.log", "python", "-m", "x", "--text", "a b", "--job", "JOB"])  # fmt: skip
    cmd = sbatch_command(spec)
    assert cmd[:3] == ["sbatch", "--wait", "--parsable"]
    assert "--gres=gpu:1" in cmd and "--mem=4G" in cmd and "--array=1-4%2" in cmd
    assert "--output=exp/log/dec.%a.log" in cmd
    wrap = next(a for a in cmd if a.startswith("--wrap="))
    assert "; python -m x --text 'a b' --job ''${SLURM_ARRAY_TASK_ID}''; code=$?; " in wrap
    assert wrap.startswith("--wrap=printf '# Slurm job %s") and wrap.endswith('exit "${code}"')


def test_exit_code_is_the_last_one_a_log_recorded(tmp_path: Path) -> None:
    log = tmp_path / "l"
    assert exit_code(log) is None  # never written
    log.write_text("# Slurm job 7 (array task 1) on n1\n# Started at now\n#\npartial output\n")
    assert exit_code(log) is None  # cancelled or killed: it never ended
    log.write_text(log.read_text() + "# Ended (code 0) at later\n")
    assert exit_code(log) == 0
    log.write_text("# Ended (code 0) at then\n# Ended (code 3) at later\n")  # a rerun appended
    assert exit_code(log) == 3

