"""Job launcher with Kaldi's ``run.pl`` / ``slurm.pl`` command line, for the recipe's ``cmd.sh``.

Why: ESPnet's recipes run every parallel stage as ``${cmd} JOB=1:N log.JOB command ... JOB`` and
train through ``espnet2.bin.launch --cmd "${cuda_cmd}"``, which calls ``${cmd} --gpu N log
command``. Those ``*.pl`` scripts live in Kaldi's ``utils/``, which a pip-installed ESPnet does not
ship; this module speaks the same command line so the recipe needs no Kaldi checkout::

    python -m espnet_dynprune.recipe.launch --backend local [--max_jobs_run 4] JOB=1:4 log/dec.JOB.log \\
        python -m espnet_dynprune.recipe.decode ... --job JOB
    python -m espnet_dynprune.recipe.launch --backend slurm --gpu 1 --mem 16G log/train.log python -m ...

Options come first (``--name value``, as Kaldi's), then an optional ``VAR=start:end`` job range,
then the log file, then the command. ``VAR`` in the log path and the command is replaced by the job
index. ``local`` runs the jobs as subprocesses here (at most ``--max_jobs_run`` at once); ``slurm``
submits one ``sbatch --wait`` job array (``%a`` in the log name) and returns when it finishes; each
task writes its Slurm job id and host first and its exit code last (``# Ended (code N)``, as
run.pl does), so a failed or cancelled task is found by its log. The exit status is non-zero if
any job failed, and the failing logs are named. sbatch's own ``SBATCH_*`` environment variables
(``SBATCH_PARTITION``, ``SBATCH_ACCOUNT``, ``SBATCH_TIMELIMIT``) apply as usual.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_dynprune.logs import configure_logging

BACKENDS = ("local", "slurm")
#: Kaldi-style options and the sbatch flag each maps to (``--gpu`` is handled apart: gres).
_SLURM_FLAGS = {"mem": "--mem", "num_threads": "--cpus-per-task", "time": "--time", "partition": "--partition",
                "account": "--account"}
#: The last line of a job's log: its exit code (both backends).
_ENDED = re.compile(r"^# Ended \(code (-?\d+)\)", re.MULTILINE)
_RANGE = re.compile(r"^([A-Za-z_]\w*)=(\d+):(\d+)$")


@dataclass
class JobSpec:
    """A parsed command line: options, the job range (if any), the log path and the command."""

    backend: str
    options: Dict[str, str] = field(default_factory=dict)
    var: Optional[str] = None
    first: int = 1
    last: int = 1
    log: str = ""
    command: List[str] = field(default_factory=list)

    def indices(self) -> range:
        return range(self.first, self.last + 1)

    def substitute(self, text: str, index: int) -> str:
        """Replace every occurrence of the job variable by the job index, as Kaldi's run.pl does."""
        return text if self.var is None else text.replace(self.var, str(index))


def parse(argv: Sequence[str]) -> JobSpec:
    """Parse ``[--backend B] [--opt value]... [VAR=a:b] log command...``; errors name the argument."""
    args = list(argv)
    options: Dict[str, str] = {}
    while args and args[0].startswith("--"):
        name = args.pop(0)[2:]
        if "=" in name:
            name, value = name.split("=", 1)
        elif args:
            value = args.pop(0)
        else:
            raise ValueError(f"option --{name} has no value")
        options[name] = value
    backend = options.pop("backend", "local")
    if backend not in BACKENDS:
        raise ValueError(f"--backend {backend!r} is not one of {BACKENDS}")
    spec = JobSpec(backend=backend, options=options)
    if args and _RANGE.match(args[0]):
        var, first, last = _RANGE.match(args.pop(0)).groups()  # type: ignore[union-attr]
        spec.var, spec.first, spec.last = var, int(first), int(last)
        if spec.first < 1 or spec.last < spec.first:
            raise ValueError(f"job range {var}={first}:{last} is empty or starts below 1")
    if len(args) < 2:
        raise ValueError("expected a log file and a command after the options: launch [opts] [JOB=1:N] log cmd ...")
    spec.log, spec.command = args[0], args[1:]
    return spec


def _check_options(spec: JobSpec) -> None:
    """Both backends take the same Kaldi options (local ignores the scheduler ones)."""
    unknown = set(spec.options) - {"gpu", "max_jobs_run", *_SLURM_FLAGS}
    if unknown:
        raise ValueError(f"unknown option(s) for --backend {spec.backend}: {sorted(unknown)}")


def _run_one(spec: JobSpec, index: int) -> int:
    log = Path(spec.substitute(spec.log, index))
    command = [spec.substitute(a, index) for a in spec.command]
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log, "w", encoding="utf-8") as out:
        out.write(f"# {shlex.join(command)}\n# Started at {time.ctime(start)}\n#\n")
        out.flush()
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
        out.write(f"# Accounting: time={time.time() - start:.0f} threads=1\n# Ended (code {code}) at {time.ctime()}\n")
    return code


def run_local(spec: JobSpec) -> int:
    """Run every job here; return 1 if any failed (naming their logs), else 0."""
    _check_options(spec)
    if int(spec.options.get("gpu", "0")) > 0:
        logging.info("--gpu %s: local jobs see this machine's GPUs", spec.options["gpu"])
    workers = int(spec.options.get("max_jobs_run", len(spec.indices())))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        codes = list(pool.map(lambda i: _run_one(spec, i), spec.indices()))
    failed = [spec.substitute(spec.log, i) for i, code in zip(spec.indices(), codes) if code != 0]
    return _report(failed, len(codes))


def _report(failed: Sequence[str], jobs: int) -> int:
    if failed:
        print(f"launch: {len(failed)} of {jobs} job(s) failed; see {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def exit_code(log: Path) -> Optional[int]:
    """The exit code a job wrote last into its log; None when it never ended (cancelled, killed, lost)."""
    try:
        codes = _ENDED.findall(log.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return None
    return int(codes[-1]) if codes else None


def sbatch_command(spec: JobSpec) -> List[str]:
    """The ``sbatch --wait`` command line (a job array when a range is given)."""
    _check_options(spec)
    cmd = ["sbatch", "--wait", "--parsable", f"--chdir={Path.cwd()}"]
    for name, flag in _SLURM_FLAGS.items():
        if name in spec.options:
            cmd.append(f"{flag}={spec.options[name]}")
    if int(spec.options.get("gpu", "0")) > 0:
        cmd.append(f"--gres=gpu:{spec.options['gpu']}")
    task = "${SLURM_ARRAY_TASK_ID}"
    if spec.var is not None:
        throttle = f"%{spec.options['max_jobs_run']}" if "max_jobs_run" in spec.options else ""
        cmd.append(f"--array={spec.first}-{spec.last}{throttle}")
        log = spec.log.replace(spec.var, "%a")
    else:
        log = spec.log
    cmd.append(f"--output={log}")
    script = " ".join(_shell_word(a, spec.var, task) for a in spec.command)
    cmd.append(f"--wrap={_SLURM_HEADER}{script}{_SLURM_TRAILER}")
    return cmd


#: Around a task's command in its log: where it ran, then its exit code (read by :func:`exit_code`).
_SLURM_HEADER = ('printf \'# Slurm job %s (array task %s) on %s\\n# Started at %s\\n#\\n\' '
                 '"${SLURM_JOB_ID}" "${SLURM_ARRAY_TASK_ID:-none}" "$(hostname)" "$(date)"; ')
_SLURM_TRAILER = '; code=$?; printf \'# Ended (code %s) at %s\\n\' "${code}" "$(date)"; exit "${code}"'


def _shell_word(arg: str, var: Optional[str], replacement: str) -> str:
    """Quote ``arg`` for bash, with each ``var`` replaced by an unquoted expansion."""
    if var is None:
        return shlex.quote(arg)
    return replacement.join(shlex.quote(part) for part in arg.split(var))


def run_slurm(spec: JobSpec) -> int:
    """Submit with ``sbatch --wait`` and return its exit status (non-zero if any task failed)."""
    for index in spec.indices():
        Path(spec.substitute(spec.log, index)).parent.mkdir(parents=True, exist_ok=True)
    cmd = sbatch_command(spec)
    logging.info("submitting: %s", shlex.join(cmd))
    code = subprocess.call(cmd)
    # The logs decide, not sbatch's status alone: Slurm 22.05's ``sbatch --wait`` exits 0 for an
    # array cancelled with scancel, whose cancelled tasks never write their trailer.
    logs = [spec.substitute(spec.log, i) for i in spec.indices()]
    failed = [log for log in logs if exit_code(Path(log)) != 0]
    if code != 0:
        print(f"launch: sbatch --wait exited with {code}", file=sys.stderr)
        return _report(failed or logs, len(logs))
    return _report(failed, len(logs))


def main(argv: Optional[Sequence[str]] = None) -> int:
    configure_logging()
    spec = parse(sys.argv[1:] if argv is None else argv)
    return run_local(spec) if spec.backend == "local" else run_slurm(spec)


if __name__ == "__main__":
    sys.exit(main())
