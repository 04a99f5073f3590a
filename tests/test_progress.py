"""floss_ref._progress: progress that suits logs, one line per interval and one at the end,
never carriage-return updates, from the library and from the command line."""

import io
import re
import subprocess
import sys
import time

from floss_ref._progress import LOG_INTERVAL, LogProgress


class FakeClock:
    """A monotonic clock that advances only when told: progress tests without timing."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_progress_in_a_log_is_one_line_per_interval_and_one_at_the_end():
    stream, clock = io.StringIO(), FakeClock()
    bar = LogProgress(1000, "work", "item", interval=10.0, stream=stream, clock=clock)
    for _ in range(1000):
        clock.t += 0.25  # 1000 updates over 250 s: a line at 10, 20, ..., 250 s
        bar.update(1)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 250 // 10 + 1
    assert lines[0].startswith("work: 40/1000 item (4 %), 10 s")
    assert lines[-1].startswith("work: 1000/1000 item (100 %), 250 s")


def test_progress_in_a_log_stays_silent_within_an_interval():
    stream, clock = io.StringIO(), FakeClock()
    bar = LogProgress(10**6, "work", "item", interval=10.0, stream=stream, clock=clock)
    for _ in range(10**5):
        clock.t += 9.99e-5  # 10**5 updates within 9.99 s
        bar.update(1)
    assert stream.getvalue() == ""
    bar.close()
    assert len(stream.getvalue().splitlines()) == 1


PROGRESS_LINE = re.compile(r"^[A-Za-z][\w ]*: \d+/\d+ \w+")


def test_cli_progress_redirected_to_a_file_writes_one_line_per_interval_per_loop(tmp_path):
    # each loop writes a line at most every LOG_INTERVAL seconds and one when it ends;
    # warnings are not progress and are not counted
    log = tmp_path / "log"
    start = time.monotonic()
    with open(log, "w") as err:
        res = subprocess.run([sys.executable, "-m", "floss_ref", "floss", "--N", "16", "--epochs", "60"],
                             stderr=err, stdout=subprocess.PIPE, timeout=600)
    seconds = time.monotonic() - start
    assert res.returncode == 0
    lines = [line for line in log.read_text().splitlines() if PROGRESS_LINE.match(line)]
    loops = {line.split(":")[0] for line in lines}
    assert loops == {"Benettin loop", "flossing"}, lines
    closing = 3  # Benettin loop before, flossing, Benettin loop after
    assert closing <= len(lines) <= closing + seconds / LOG_INTERVAL, lines
    assert "\r" not in log.read_text()
