"""ProcessExecutor on good jobs: results against local computation, cancel, concurrency, output."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import UsageError
from unseen.jobs import DEFAULT_IMPORTS, JobLimits, JobOutcome, JobSpec, ProcessExecutor


@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessExecutor]:
    with ProcessExecutor(max_workers=2, work_root=tmp_path_factory.mktemp("jobs")) as ex:
        yield ex


def run(ex: ProcessExecutor, source: str, function: str = "f", **inputs: object) -> JobOutcome:
    spec = JobSpec(job_id="good", source=source, function=function, inputs=inputs)
    outcome = ex.submit(spec).wait(120)
    assert outcome is not None
    return outcome


def test_numpy_inputs_and_result_match_local_computation(executor: ProcessExecutor) -> None:
    data = np.random.default_rng(3).normal(size=(50, 4))
    src = "def corr(data):\n    import numpy as np\n    return np.corrcoef(data.T)\n"
    out = run(executor, src, "corr", data=data)
    assert out.status == "done", out.reason
    np.testing.assert_allclose(out.result, np.corrcoef(data.T), rtol=1e-12)
    assert out.wall_seconds > 0 and out.cpu_seconds > 0
    assert "audit hook" in out.isolation and "import allow-list" in out.isolation


def test_pandas_inputs_and_result_match_local_computation(executor: ProcessExecutor) -> None:
    df = pd.DataFrame({"ward": ["a", "b", "a", "c", "b"], "age": [30, 41, 52, 23, 64.0]})
    src = "def f(df):\n    return df.groupby('ward')['age'].mean()\n"
    out = run(executor, src, df=df)
    assert out.status == "done", out.reason
    pd.testing.assert_series_equal(out.result, df.groupby("ward")["age"].mean())


def test_torch_inputs_and_result_match_local_computation(executor: ProcessExecutor) -> None:
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    w = torch.randn(3, 2, generator=torch.Generator().manual_seed(1))
    src = (
        "def f(x, w, steps):\n    import torch\n    w = w.clone().requires_grad_(True)\n"
        "    for _ in range(steps):\n        loss = (x @ w).pow(2).mean()\n"
        "        loss.backward()\n        with torch.no_grad():\n"
        "            w -= 0.1 * w.grad\n            w.grad.zero_()\n"
        "    return w.detach(), float(loss)\n"
    )
    out = run(executor, src, x=x, w=w, steps=5)
    assert out.status == "done", out.reason
    local = w.clone().requires_grad_(True)
    for _ in range(5):
        loss = (x @ local).pow(2).mean()
        loss.backward()
        with torch.no_grad():
            local -= 0.1 * local.grad
            local.grad.zero_()
    torch.testing.assert_close(out.result[0], local.detach())
    assert out.result[1] == pytest.approx(float(loss.detach()))


def test_stdout_is_captured_and_truncated_past_the_limit(executor: ProcessExecutor) -> None:
    src = "def f():\n    for i in range(2000):\n        print('line', i)\n    return 1\n"
    limits = JobLimits(output_bytes=1000)
    out = executor.submit(JobSpec(job_id="p", source=src, function="f", limits=limits)).wait(60)
    assert out is not None and out.status == "done"
    kept, _, rest = out.stdout.partition("\n[output truncated at 1000 bytes]")
    assert kept == "".join(f"line {i}\n" for i in range(2000))[:1000]
    assert rest.strip() == ""


def test_decorators_on_the_function_are_dropped(executor: ProcessExecutor) -> None:
    src = "@unseen.function(data=ptr)\ndef f(data):\n    return data * 2\n"
    out = run(executor, src, data=21)
    assert (out.status, out.result) == ("done", 42), out.reason


def test_cancel_stops_a_running_job(executor: ProcessExecutor) -> None:
    src = "def f():\n    import time\n    time.sleep(60)\n"
    handle = executor.submit(JobSpec(job_id="c", source=src, function="f"))
    assert handle.wait(1.0) is None and handle.poll() is None
    started = time.monotonic()
    handle.cancel()
    out = handle.wait(30)
    assert out is not None and out.status == "cancelled", out
    assert time.monotonic() - started < 10
    assert run(executor, "def f():\n    return 'next'\n").result == "next"


def _span_job(seconds: float) -> str:
    return (
        "def f():\n    import time\n    start = time.time()\n"
        f"    time.sleep({seconds})\n    return start, time.time()\n"
    )


def test_jobs_run_concurrently_up_to_max_workers(tmp_path: Path) -> None:
    def spans(workers: int, jobs: int) -> list[tuple[float, float]]:
        with ProcessExecutor(max_workers=workers, work_root=tmp_path) as ex:
            handles = [
                ex.submit(JobSpec(job_id=f"s{i}", source=_span_job(2.0), function="f"))
                for i in range(jobs)
            ]
            outs = [h.wait(120) for h in handles]
        assert all(o is not None and o.status == "done" for o in outs), outs
        return sorted(o.result for o in outs if o is not None)

    def most_at_once(found: list[tuple[float, float]]) -> int:
        return max(sum(1 for s, e in found if s <= t < e) for t, _ in found)

    assert most_at_once(spans(2, 3)) == 2
    assert most_at_once(spans(1, 2)) == 1


def test_cancel_of_a_queued_job_never_starts_it(tmp_path: Path) -> None:
    with ProcessExecutor(max_workers=1, work_root=tmp_path) as ex:
        first = ex.submit(JobSpec(job_id="busy", source=_span_job(2.0), function="f"))
        queued = ex.submit(JobSpec(job_id="queued", source=_span_job(0.0), function="f"))
        queued.cancel()
        out = queued.wait(60)
        assert out is not None and out.status == "cancelled"
        assert out.reason == "cancelled before it started"
        assert first.wait(60) is not None


def test_close_cancels_what_is_left(tmp_path: Path) -> None:
    ex = ProcessExecutor(max_workers=1, work_root=tmp_path)
    handle = ex.submit(JobSpec(job_id="long", source=_span_job(60.0), function="f"))
    ex.close()
    out = handle.poll()
    assert out is not None and out.status == "cancelled"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="closed"):
        ex.submit(JobSpec(job_id="late", source=_span_job(0.0), function="f"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "def f(:\n", "function": "f"}, "does not parse"),
        ({"source": "def g():\n    pass\n", "function": "f"}, "no top-level function 'f'"),
        ({"source": "async def f():\n    pass\n", "function": "f"}, "async def"),
        (
            {"source": "def f(x):\n    pass\n", "function": "f", "inputs": {"x": object()}},
            "cannot be sent",
        ),
    ],
)
def test_bad_specs_are_refused_at_submit(
    executor: ProcessExecutor, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        executor.submit(JobSpec(job_id="bad", **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: JobSpec(job_id="a/b", source="", function="f"), "job_id"),
        (lambda: JobSpec(job_id="a", source="", function="f-g"), "function"),
        (lambda: JobSpec(job_id="a", source="", function="f", allowed_imports="numpy"), "tuple"),
        (lambda: JobLimits(cpu_seconds=0), "cpu_seconds"),
        (lambda: JobLimits(memory_bytes=1.5), "memory_bytes"),
        (lambda: ProcessExecutor(max_workers=0), "max_workers"),
        (lambda: ProcessExecutor(work_root="/nonexistent/jobs"), "work_root"),
    ],
)
def test_bad_arguments_name_what_is_wrong(build: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build()  # type: ignore[operator]


def test_default_imports_are_the_issue_list_and_leave_out_the_ways_out() -> None:
    for name in ("numpy", "pandas", "scipy", "sklearn", "torch", "opendp"):
        assert name in DEFAULT_IMPORTS
    for name in ("os", "sys", "io", "subprocess", "socket", "ctypes", "importlib", "pathlib"):
        assert name not in DEFAULT_IMPORTS


def test_without_a_spare_each_worker_boots_on_demand(tmp_path: Path) -> None:
    with ProcessExecutor(max_workers=1, work_root=tmp_path, spare_workers=0) as ex:
        assert list(tmp_path.iterdir()) == []  # nothing started before a job
        handle = ex.submit(JobSpec(job_id="cold", source="def f():\n    return 7\n", function="f"))
        out = handle.wait(60)
        assert out is not None and (out.status, out.result, out.reason) == ("done", 7, "")
    assert list(tmp_path.iterdir()) == []


def test_a_spare_that_died_waiting_is_replaced(tmp_path: Path) -> None:
    with ProcessExecutor(max_workers=1, work_root=tmp_path) as ex:
        spare = ex._spares._ready[0]
        spare.proc.kill()
        spare.proc.wait()
        out = ex.submit(JobSpec(job_id="after", source="def f():\n    return 'ok'\n", function="f"))
        result = out.wait(60)
        assert result is not None and (result.status, result.result) == ("done", "ok"), result
    assert list(tmp_path.iterdir()) == []


def test_a_spare_whose_parent_went_away_removes_its_directory(tmp_path: Path) -> None:
    from unseen.jobs._pool import start

    worker = start(str(tmp_path))
    assert Path(worker.path).is_dir()
    assert worker.proc.stdin is not None
    worker.proc.stdin.close()  # as when the server exits: EOF instead of "go"
    assert worker.proc.wait(60) == 0
    worker.close_files()
    assert not Path(worker.path).exists()


SERVER = """
import sys, time
from unseen.jobs import JobSpec, ProcessExecutor
ex = ProcessExecutor(max_workers=1, work_root=sys.argv[1])
src = "def f():\\n    import time\\n    time.sleep(300)\\n"
handle = ex.submit(JobSpec(job_id="orphan", source=src, function="f"))
while handle._pid is None or not ex._spares._ready:  # the job started, a new spare behind it
    time.sleep(0.05)
print(handle._pid, ex._spares._ready[0].proc.pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_end_when_the_server_dies(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert server.stdout is not None
    worker, spare = (int(p) for p in server.stdout.readline().split())
    assert _alive(worker) and _alive(spare)
    server.kill()  # SIGKILL: no close(), no cleanup of any kind
    server.wait()
    deadline = time.monotonic() + 30
    try:
        while (_alive(worker) or _alive(spare)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the running job outlived its server"
        assert not _alive(spare), "the spare outlived its server"
    finally:
        for pid in (worker, spare):
            if _alive(pid):
                os.kill(pid, 9)
