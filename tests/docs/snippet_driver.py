"""One "notebook" for the snippet test: reads blocks as JSON lines on stdin, runs each in one
shared namespace, and answers one JSON line per block on the real stdout (ok, output, error).

Run as a script by tests/docs/test_snippets.py; each notebook of a page is its own process.
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import sys
import traceback


def main() -> None:
    answer = sys.stdout
    namespace: dict[str, object] = {"__name__": "__main__"}
    for line in sys.stdin:
        block = json.loads(line)
        captured = io.StringIO()
        ok, error, kind = True, "", ""
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            try:
                code = compile(block["code"], block["where"], "exec")
                # as a notebook does: a cell's source is readable (inspect.getsource)
                lines = block["code"].splitlines(keepends=True)
                linecache.cache[block["where"]] = (len(block["code"]), None, lines, block["where"])
                exec(code, namespace)  # noqa: S102 - the documentation's own code blocks
            except BaseException:  # report every failure of a block, SystemExit included
                ok, error = False, traceback.format_exc()
                kind = type(sys.exc_info()[1]).__name__
        answer.write(
            json.dumps({"ok": ok, "output": captured.getvalue(), "error": error, "raised": kind})
            + "\n"
        )
        answer.flush()


if __name__ == "__main__":
    main()
