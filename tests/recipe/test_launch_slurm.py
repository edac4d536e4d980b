"""The launcher's ``--backend slurm`` against a real single-node Slurm (tests/builders/slurm_cluster.py):
job arrays and their logs, a failing task, the job's environment, cancellation."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders.slurm_cluster import PARTITION, SlurmCluster

PY = sys.executable


def launch(cluster: SlurmCluster, *argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "espnet_dynprune.recipe.launch", "--backend", "slurm", *argv],
                          env={**cluster.env, **env}, capture_output=True, text=True, timeout=300)


def test_a_job_array_runs_each_task_with_its_index_log_and_environment(slurm: SlurmCluster, tmp_path: Path) -> None:
    proc = launch(slurm, "JOB=1:2", f"{tmp_path}/log/task.JOB.log", PY, "-c",
                  f"import os; open('{tmp_path}/out.JOB', 'w').write(os.environ['DYNPRUNE_MARK'] + ' JOB')",
                  DYNPRUNE_MARK="from the caller")
    assert proc.returncode == 0, proc.stderr
    assert [(tmp_path / f"out.{i}").read_text() for i in (1, 2)] == ["from the caller 1", "from the caller 2"]
    for i in (1, 2):  # one log per task (sbatch's %a), written by the job on the node
        log = (tmp_path / f"log/task.{i}.log").read_text()
        assert f"(array task {i}) on {slurm.node}" in log and "# Ended (code 0)" in log


def test_a_failing_task_fails_the_array_naming_its_log(slurm: SlurmCluster, tmp_path: Path) -> None:
    proc = launch(slurm, "JOB=1:3", f"{tmp_path}/t.JOB.log", PY, "-c", "import sys; sys.exit(3 if JOB == 2 else 0)")
    assert proc.returncode != 0
    assert "1 of 3 job(s) failed" in proc.stderr and f"{tmp_path}/t.2.log" in proc.stderr
    assert f"{tmp_path}/t.1.log" not in proc.stderr
    assert "# Ended (code 3)" in (tmp_path / "t.2.log").read_text()


def test_a_single_job_as_espnet_launch_submits_it(slurm: SlurmCluster, tmp_path: Path) -> None:
    # espnet2.bin.launch calls ${cuda_cmd} --gpu N LOG command... (no job range)
    proc = launch(slurm, "--gpu", "0", "--num_threads", "1", f"{tmp_path}/train.log", PY, "-c", "print('trained')")
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "train.log").read_text()
    assert "(array task none)" in log and "trained" in log and "# Ended (code 0)" in log


def test_cluster_options_reach_the_scheduler(slurm: SlurmCluster, tmp_path: Path) -> None:
    """Kaldi-style options in cmd.sh, and sbatch's own SBATCH_* variables, as the recipe README says."""
    proc = launch(slurm, "--partition", PARTITION, "--time", "7", "--num_threads", "2", "--mem", "100M",
                  f"{tmp_path}/opts.log", "true", SBATCH_JOB_NAME="dynprune-opts")
    assert proc.returncode == 0, proc.stderr
    job_id = re.search(r"# Slurm job (\d+)", (tmp_path / "opts.log").read_text()).group(1)
    job = slurm.command("scontrol", "show", "job", job_id).stdout
    for field in (f"Partition={PARTITION}", "TimeLimit=00:07:00", "NumCPUs=2", "MinMemoryNode=100M",
                  "JobName=dynprune-opts", "ExitCode=0:0"):
        assert field in job, job


def test_a_cancelled_array_fails_naming_the_tasks_that_did_not_end(slurm: SlurmCluster, tmp_path: Path) -> None:
    script = f"import pathlib, time; pathlib.Path('{tmp_path}/started.JOB').touch(); time.sleep(0 if JOB == 1 else 600)"
    proc = subprocess.Popen([PY, "-m", "espnet_dynprune.recipe.launch", "--backend", "slurm", "JOB=1:2",
                             f"{tmp_path}/c.JOB.log", PY, "-c", script],
                            env=slurm.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started.2").exists() or "# Ended" not in _read(tmp_path / "c.1.log"):
        assert time.monotonic() < deadline and proc.poll() is None, "the array never ran"
        time.sleep(0.5)
    job_ids = {line.split()[0].split("_")[0] for line in slurm.jobs()}
    assert len(job_ids) == 1
    slurm.command("scancel", job_ids.pop())
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert f"{tmp_path}/c.2.log" in err and f"{tmp_path}/c.1.log" not in err
    assert "# Ended" not in (tmp_path / "c.2.log").read_text()


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@pytest.fixture(autouse=True)
def _empty_queue(slurm: SlurmCluster):
    """Each test starts and leaves the cluster without jobs."""
    yield
    slurm.wait_for_empty_queue()
