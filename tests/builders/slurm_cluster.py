"""A real single-node Slurm cluster for the tests: munged, slurmctld and slurmd started from a
temporary directory and stopped again, nothing of the machine's own configuration touched.

Why a real scheduler: job arrays and their ``%a`` log names, ``sbatch --wait``'s exit code when one
task fails, logs written by the compute node's daemon, the environment a job sees and ``scancel``
are Slurm's behaviour, which a stand-in ``sbatch`` would only restate. The packages (Debian's
``slurm-wlm`` and ``munge``) come from ``make sysdeps``; where they are missing or the daemons
do not come up, :func:`start_cluster` raises :class:`SlurmUnavailable` with the reason (the
fixture turns it into a skip that pytest prints).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
PARTITION = "test"
#: How long the daemons get to come up, and a job to leave the queue.
START_TIMEOUT_S = 60


class SlurmUnavailable(RuntimeError):
    """Slurm cannot run here; the message says why."""


@dataclass
class SlurmCluster:
    root: Path  # everything the cluster writes: config, keys, sockets, state, daemon logs
    node: str  # the one node's name (this host's)
    env: Dict[str, str]  # what a client (sbatch, squeue, the recipe) needs: SLURM_CONF
    processes: List[subprocess.Popen] = field(default_factory=list)

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """A Slurm client command against this cluster."""
        proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def jobs(self) -> List[str]:
        """``JOBID STATE`` of every job in the queue."""
        return self.command("squeue", "--noheader", "--array", "--format=%i %T").stdout.split("\n")[:-1]

    def wait_for_empty_queue(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while self.jobs():
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still queued after {timeout} s: {self.jobs()}")
            time.sleep(0.5)

    def log(self, daemon: str) -> str:
        path = self.root / "log" / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Cancel what is left, then stop the daemons (slurmd first)."""
        self.command("scancel", "--full", f"--partition={PARTITION}", check=False)
        for proc in reversed(self.processes):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise SlurmUnavailable("no MemTotal in /proc/meminfo")


def slurm_conf(root: Path, node: str, cpus: int, memory_mb: int) -> str:
    """A minimal slurm.conf: one node (this host, ``cpus`` cores), one partition, every path under
    ``root``; process tracking by process group (no cgroups in a container), no accounting."""
    return "\n".join([
        "ClusterName=dynprune-test",
        f"SlurmctldHost={node}(127.0.0.1)",
        "SlurmUser=root", "SlurmdUser=root",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={root}/munge/munge.socket",
        f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool/%n",
        f"SlurmctldPidFile={root}/run/slurmctld.pid", f"SlurmdPidFile={root}/run/slurmd.pid",
        f"SlurmctldLogFile={root}/log/slurmctld.log", f"SlurmdLogFile={root}/log/slurmd.log",
        "ProctrackType=proctrack/pgid", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none", "MpiDefault=none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "ReturnToService=2",
        "SchedulerParameters=sched_interval=1", "MinJobAge=300", "KillWait=5", "InactiveLimit=0",
        "SlurmdTimeout=60", "SlurmctldTimeout=60", "MessageTimeout=30",
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def start_cluster(root: Path) -> SlurmCluster:
    """munged, slurmctld and slurmd under ``root``, the node idle; SlurmUnavailable when they cannot run."""
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        raise SlurmUnavailable(f"not installed: {' '.join(missing)} (make sysdeps installs slurm-wlm and munge as root)")
    if os.geteuid() != 0:
        raise SlurmUnavailable("slurmd must run as root to start jobs, and this is not root")
    for sub in ("munge", "state", "spool", "run", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o700)
    node = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, node, os.cpu_count() or 1, max(_memory_mb() - 1024, 512)), encoding="utf-8")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(root, node, env)
    key = root / "munge" / "munge.key"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
    munge = [f"--socket={root}/munge/munge.socket", f"--key-file={key}", f"--pid-file={root}/run/munged.pid",
             f"--log-file={root}/log/munged.log", f"--seed-file={root}/munge/munged.seed"]
    daemons = [["munged", "--foreground", "--force", *munge],
               ["slurmctld", "-D", "-i", "-f", str(conf)],
               ["slurmd", "-D", "-f", str(conf), "-N", node]]
    try:
        for argv in daemons:
            cluster.processes.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                                      stderr=open(root / "log" / f"{argv[0]}.err", "w")))
            _wait_until_up(cluster, argv[0])
    except SlurmUnavailable:
        cluster.stop()
        raise
    return cluster


def _wait_until_up(cluster: SlurmCluster, daemon: str) -> None:
    """Wait for ``daemon`` to serve: munge's socket, the controller answering, the node idle."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        proc = cluster.processes[-1]
        if proc.poll() is not None:
            err = (cluster.root / "log" / f"{daemon}.err").read_text(errors="replace")
            raise SlurmUnavailable(f"{daemon} exited with {proc.returncode}: {err.strip()[-500:]} "
                                   f"{cluster.log(daemon).strip()[-500:]}")
        if daemon == "munged" and (cluster.root / "munge" / "munge.socket").exists():
            return
        if daemon == "slurmctld" and cluster.command("sinfo", "--noheader", check=False).returncode == 0:
            return
        if daemon == "slurmd":
            state = cluster.command("sinfo", "--noheader", "--format=%T", check=False).stdout.strip()
            if state == "idle":
                return
        time.sleep(0.5)
    raise SlurmUnavailable(f"{daemon} did not come up in {START_TIMEOUT_S} s: {cluster.log(daemon).strip()[-800:]}")
