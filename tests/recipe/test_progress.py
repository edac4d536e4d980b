"""Training progress on the console, from ESPnet's train.log as it grows."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from espnet_dynprune.recipe.progress import follow, summarise

STARTED = "[vm] 2026-12-07 16:55:54,569 (trainer:336) INFO: 1/2epoch started"
INTERVAL = ("[vm] 2026-12-07 16:55:55,000 (trainer:810) INFO: 1epoch:train:1-20batch: iter_time=0.01, "
            "forward_time=0.039, loss=256.914, enc_sparsity=0.059, dec_sparsity=0.035, backward_time=0.029")
RESULTS = ("[vm] 2026-12-07 16:55:55,279 (trainer:394) INFO: 1epoch results: [train] iter_time=0.010, "
           "loss=256.914, enc_sparsity=0.059, dec_sparsity=0.035, train_time=0.093, time=0.59 seconds, "
           "total_count=2, [valid] loss=240.1, acc=0.125, time=0.1 seconds, [att_plot] time=0.2 seconds")
SECOND = "[vm] 2026-12-07 16:55:58,090 (trainer:324) INFO: 2/2epoch started. Estimated time to finish: 3.52 seconds"
FINISHED = "[vm] 2026-12-07 16:56:00,579 (trainer:534) INFO: The training was finished at 2 epochs "


def test_each_kind_of_espnet_line_becomes_one_console_line():
    assert summarise(STARTED, 0) == "epoch 1/2 started [0m00s elapsed]"
    assert summarise(SECOND, 75) == "epoch 2/2 started [1m15s elapsed, about 3.52 seconds left (ESPnet's estimate)]"
    assert summarise(INTERVAL, 1) == "  epoch 1, batches 1-20: loss 256.914, enc_sparsity 0.059, dec_sparsity 0.035"
    assert summarise(RESULTS, 2) == ("epoch 1 done: train loss 256.914, enc_sparsity 0.059, dec_sparsity 0.035; "
                                     "valid loss 240.1, acc 0.125 [0m02s elapsed]")
    assert summarise(FINISHED, 3) == "training finished at 2 epochs [0m03s elapsed]"
    assert summarise("[vm] ... (s2t:1) INFO: Vocabulary size: 50002", 0) is None


def test_only_lines_written_after_it_starts_are_shown(tmp_path: Path):
    log = tmp_path / "train.log"
    log.write_text(STARTED + "\n" + RESULTS + "\n", encoding="utf-8")  # an earlier run's log, resumed into
    shown, rounds = [], iter(range(3))

    def alive() -> bool:
        round_ = next(rounds, None)
        if round_ == 1:
            with open(log, "a", encoding="utf-8") as f:
                f.write(SECOND + "\n" + FINISHED)  # the last line still unterminated
        if round_ == 2:
            with open(log, "a", encoding="utf-8") as f:
                f.write("\n")
        return round_ is not None and round_ < 2

    follow(log, alive, out=shown.append, poll=0)
    assert [s.split(" [")[0] for s in shown] == ["epoch 2/2 started", "training finished at 2 epochs"]


def test_a_log_made_anew_is_read_from_its_start(tmp_path: Path):
    log = tmp_path / "train.log"
    log.write_text("old line that is long enough\n" * 10, encoding="utf-8")
    shown, rounds = [], iter(range(2))

    def alive() -> bool:
        if next(rounds, None) == 0:
            log.write_text(STARTED + "\n", encoding="utf-8")  # the launcher truncates it
            return True
        return False

    follow(log, alive, out=shown.append, poll=0)
    assert shown == ["epoch 1/2 started [0m00s elapsed]"]


def test_sigterm_prints_what_is_left_and_exits(tmp_path: Path):
    log = tmp_path / "train.log"
    proc = subprocess.Popen([sys.executable, "-m", "espnet_dynprune.recipe.progress", "--log", str(log),
                             "--pid", str(os.getpid()), "--poll", "0.1"], stdout=subprocess.PIPE, text=True)
    time.sleep(2.0)  # it has started (a few imports of the standard library) and found no log yet
    log.write_text(STARTED + "\n" + RESULTS + "\n", encoding="utf-8")
    threading.Timer(0.3, proc.send_signal, [signal.SIGTERM]).start()
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "epoch 1/2 started" in out and "epoch 1 done" in out
