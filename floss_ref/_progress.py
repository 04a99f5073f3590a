"""Progress of long loops on stderr: a live tqdm bar on a terminal, and plain lines at
most every LOG_INTERVAL seconds when stderr is a file or a pipe (a log), never hundreds
of carriage-return updates."""

import sys
import time

# seconds between two progress lines in a log (the first line comes after this too)
LOG_INTERVAL = 10.0


def progress_bar(total, enabled, desc, unit, *, initial=0, leave=False, position=None):
    """A progress display over ``total`` items, or None when ``enabled`` is false.

    On a terminal, a tqdm bar; otherwise a :class:`LogProgress` with the same methods
    (``update``, ``set_postfix``, ``close``).
    """
    if not enabled:
        return None
    if sys.stderr.isatty():
        from tqdm import tqdm
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave, mininterval=0.5,
                    position=position)
    return LogProgress(total, desc, unit, initial=initial)


class LogProgress:
    """Progress as lines ``desc: 1200/6000 epoch (20 %), 31 s, loss=0.69`` on stderr, at
    most one every ``interval`` seconds, and one at the end."""

    def __init__(self, total, desc, unit, *, initial=0, interval=LOG_INTERVAL, stream=None,
                 clock=time.monotonic):
        self.total, self.desc, self.unit = total, desc, unit
        self.n = initial
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock  # seconds, monotonic; the tests pass a fake one
        self.postfix = ""
        self.start = self.last = clock()

    def update(self, n=1):
        self.n += n
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._line(now)

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        items = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def close(self):
        self._line(self.clock())

    def _line(self, now):
        share = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}/{self.total} {self.unit}{share}, {now - self.start:.0f} s{extra}",
              file=self.stream, flush=True)
