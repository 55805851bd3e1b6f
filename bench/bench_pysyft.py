"""The seed walkthrough side by side with PySyft 0.9.5, both over HTTP on loopback.

Run: python bench/bench_pysyft.py [--quick] [--repeats N]. PySyft lives in its own virtualenv (it
pins numpy, pydantic and fastapi versions of its own); its interpreter is $UNSEEN_PYSYFT_PYTHON,
else /tmp/syft-venv/bin/python. Make one with:

    python3 -m venv /tmp/syft-venv && /tmp/syft-venv/bin/pip install syft==0.9.5 sniffio

Our walkthrough (bench_server.walkthrough_times) runs first against an `unseen launch domain`
process, then bench/_pysyft_walkthrough.py runs the same steps against a PySyft datasite process
(``sy.orchestra.launch(port=...)``): the owner uploads a dataset with one 100,000 x 10 float64
asset (8 MB) and a mock, a new data scientist logs in, finds it, asks for the mean over axis 0,
the owner approves and the scientist gets the value, which both check against X.mean(axis=0).
PySyft does it with a syft_function; we do it twice: with pointers and a request, and with a
code request whose approved function runs as an isolated job (``code_to_get``): that one
includes the rounding of a job's end for a scientist on private data (at least 1 s from the
job's start, docs/code.md "What a job shows"), not only the work.
Each repetition uses a new scientist and dataset on the same server; the lines give medians and,
in brackets, the range over the repetitions.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_server import domain, walkthrough_times  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_PYSYFT_PYTHON = "/tmp/syft-venv/bin/python"
HINT = (
    "PySyft 0.9.5 not found (set UNSEEN_PYSYFT_PYTHON to its python); make it with: "
    "python3 -m venv /tmp/syft-venv && /tmp/syft-venv/bin/pip install syft==0.9.5 sniffio"
)
#: (what, our key, PySyft's key, target): PySyft computes the mean with a syft_function, so
#: both our ways are measured against it (pointers and a request; a code request and a job)
MEASURES = [
    ("upload of the 8 MB asset", "upload", "upload", "aim 30 ms"),
    ("scientist login", "login", "login", "no target"),
    ("search for the asset", "search", "search", "no target"),
    ("mean + request + approve + execute + get", "request_to_get", "request_to_get", "aim 50 ms"),
    (
        "function + code request + approve + job + get (PySyft: the same syft_function)",
        "code_to_get",
        "request_to_get",
        "PySyft 0.9.5 2.2-2.7 s",
    ),
]


def pysyft_python() -> str | None:
    path = os.environ.get("UNSEEN_PYSYFT_PYTHON") or DEFAULT_PYSYFT_PYTHON
    return path if Path(path).exists() else None


def repeats() -> int:
    if "--repeats" in sys.argv:
        return int(sys.argv[sys.argv.index("--repeats") + 1])
    return 2 if "--quick" in sys.argv else 3


def ours(n: int) -> list[dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="unseen-bench-") as tmp:
        with domain(Path(tmp) / "a") as (url, _), contextlib.redirect_stdout(io.StringIO()):
            return [walkthrough_times(url, rep) for rep in range(n)]


def pysyft(python: str, n: int) -> tuple[str, list[dict[str, float]]]:
    script = str(HERE / "_pysyft_walkthrough.py")
    # PySyft keeps its datasite's database and blobs under $TMPDIR/syft/<uid>: give it its own.
    with tempfile.TemporaryDirectory(prefix="unseen-bench-pysyft-") as tmp:
        env = {**os.environ, "TMPDIR": tmp, "TQDM_DISABLE": "1"}
        # Its own session, so that a timeout also ends the uvicorn process PySyft forks.
        proc = subprocess.Popen(
            [python, script, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=1800)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    if proc.returncode != 0 or not out.strip():
        sys.stderr.write(out[-4000:] + err[-4000:])
        raise SystemExit(f"the PySyft walkthrough failed (exit status {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    return str(result["syft"]), list(result["runs"])


def measure_line(
    name: str, ours: list[float], base: list[float], base_name: str, target: str
) -> str:
    """_common.line's format (medians), with the ranges and the speed-up factor added."""
    a, b = statistics.median(ours), statistics.median(base)
    return (
        f"{name}: {a * 1e3:.2f} ms vs {base_name} {b * 1e3:.2f} ms -> ratio {a / b:.3f}, "
        f"{b / a:.0f}x faster ({target}) [ours {min(ours) * 1e3:.1f}-{max(ours) * 1e3:.1f} ms, "
        f"{base_name} {min(base) * 1e3:.0f}-{max(base) * 1e3:.0f} ms]"
    )


def main() -> None:
    python = pysyft_python()
    if python is None:
        print(HINT)
        return
    n = repeats()
    start = time.perf_counter()
    our_runs = ours(n)
    our_wall = time.perf_counter() - start
    start = time.perf_counter()
    version, their_runs = pysyft(python, n)
    their_wall = time.perf_counter() - start
    base_name = f"PySyft {version}"
    print(
        f"seed walkthrough over HTTP, {n} repetitions each (server start included in the wall "
        f"time: ours {our_wall:.1f} s, {base_name} {their_wall:.1f} s)"
    )
    for name, our_key, their_key, target in MEASURES:
        a = [run[our_key] for run in our_runs]
        b = [run[their_key] for run in their_runs]
        print(measure_line(name, a, b, base_name, target))


if __name__ == "__main__":
    main()
