"""A notice for calls the node takes long to answer: after a second, a line with the elapsed
time that updates until the answer comes (in notebooks a widget, in a terminal on stderr).

One watcher thread per process serves every call, started on first use: a quick call costs a
lock and a dict entry, not a thread.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["waiting"]

#: seconds before the notice shows
AFTER_S = 1.0
TICK_S = 0.25


def _interactive() -> bool:
    if os.environ.get("UNSEEN_PROGRESS") in ("0", "1"):
        return os.environ["UNSEEN_PROGRESS"] == "1"
    return "ipykernel" in sys.modules or sys.stderr.isatty()


class _Watcher:
    """Calls in flight (start time, what) and the bars of those past AFTER_S."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls: dict[int, tuple[float, str]] = {}
        self._bars: dict[int, Any] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def begin(self, what: str) -> int:
        with self._cond:
            call = next(self._ids)
            self._calls[call] = (time.monotonic(), what)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="unseen-waiting", daemon=True
                )
                self._thread.start()
            self._cond.notify()
            return call

    def end(self, call: int) -> None:
        with self._cond:
            start, what = self._calls.pop(call)
            bar = self._bars.pop(call, None)
        if bar is not None:
            bar.close()
            print(f"{what}: done in {time.monotonic() - start:.1f} s", file=sys.stderr)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._calls:
                    self._cond.wait()
                now = time.monotonic()
                due = [(c, w) for c, (s, w) in self._calls.items()
                       if c not in self._bars and now - s >= AFTER_S]  # fmt: skip
                shown = list(self._bars.values())
            for call, what in due:
                from tqdm.auto import tqdm

                bar = tqdm(total=None, desc=what, bar_format="{desc}: {elapsed}", leave=False)
                with self._cond:
                    if call in self._calls:
                        self._bars[call] = bar
                        continue
                bar.close()  # it ended meanwhile
            for bar in shown:
                bar.refresh()
            with self._cond:
                self._cond.wait(min(TICK_S, AFTER_S) if self._calls else None)


_WATCHER = _Watcher()


@contextmanager
def waiting(what: str) -> Iterator[None]:
    """Show ``what`` with the elapsed seconds while the block runs, once it passes AFTER_S
    (nothing for quick calls, nor where no one watches: UNSEEN_PROGRESS=1 or 0 forces it)."""
    if not _interactive():
        yield
        return
    call = _WATCHER.begin(what)
    try:
        yield
    finally:
        _WATCHER.end(call)
