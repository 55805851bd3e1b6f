"""A notice for calls the node takes long to answer: after a second, a line with the elapsed
time that updates until the answer comes (in notebooks a widget, in a terminal on stderr)."""

from __future__ import annotations

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


@contextmanager
def waiting(what: str) -> Iterator[None]:
    """Show ``what`` with the elapsed seconds while the block runs, once it passes AFTER_S
    (nothing for quick calls, nor where no one watches: UNSEEN_PROGRESS=1 or 0 forces it)."""
    if not _interactive():
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def show() -> None:
        if done.wait(AFTER_S):
            return
        from tqdm.auto import tqdm

        bar: Any = tqdm(total=None, desc=what, bar_format="{desc}: {elapsed}", leave=False)
        try:
            while not done.wait(TICK_S):
                bar.refresh()
        finally:
            bar.close()
            print(f"{what}: done in {time.monotonic() - start:.1f} s", file=sys.stderr)

    thread = threading.Thread(target=show, name="unseen-waiting", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=1.0)
