"""Hostile job functions: each ends as a failed JobOutcome with a clear reason, and the
executor keeps serving (a good job after each returns the locally computed answer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from unseen.jobs import DEFAULT_IMPORTS, JobLimits, JobOutcome, JobSpec, ProcessExecutor
from unseen.jobs._sandbox import worker_env

SECRET = "node-secret-7f3a9c"
FAST = JobLimits(wall_seconds=60.0, cpu_seconds=30.0, memory_bytes=1 << 30, file_bytes=1 << 20)


@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessExecutor]:
    root = tmp_path_factory.mktemp("jobs")
    with ProcessExecutor(max_workers=2, work_root=root) as ex:
        yield ex
    assert list(root.iterdir()) == [], "job directories must be removed after their jobs"


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    """Stands for the node's data directory: a key file the job must not read."""
    d = tmp_path / "node-data"
    d.mkdir()
    (d / "node.key").write_text(SECRET)
    return d


def run(
    ex: ProcessExecutor,
    source: str,
    *,
    imports: tuple[str, ...] = (),
    limits: JobLimits = FAST,
    **inputs: Any,
) -> JobOutcome:
    spec = JobSpec(
        job_id="hostile",
        source=source,
        function="f",
        inputs=inputs,
        allowed_imports=DEFAULT_IMPORTS + imports,
        limits=limits,
    )
    outcome = ex.submit(spec).wait(120)
    assert outcome is not None, "the job did not end"
    return outcome


def still_serving(ex: ProcessExecutor) -> None:
    x = np.arange(12.0).reshape(3, 4)
    good = run(ex, "def f(x):\n    import numpy as np\n    return np.cumsum(x, axis=1)\n", x=x)
    assert good.status == "done", good.reason
    np.testing.assert_array_equal(good.result, np.cumsum(x, axis=1))


def refused(ex: ProcessExecutor, attacks: Any, source: str, reason: str, **kw: Any) -> JobOutcome:
    attacks.tried()
    outcome = run(ex, source, **kw)
    assert outcome.status == "failed", outcome
    assert reason in outcome.reason, outcome.reason
    assert SECRET not in outcome.reason + outcome.stdout + outcome.stderr + repr(outcome.result)
    attacks.refused += 1
    still_serving(ex)
    return outcome


def test_reading_etc_passwd_is_refused(executor: ProcessExecutor, attacks: Any) -> None:
    src = "def f():\n    return open('/etc/passwd').read()\n"
    refused(executor, attacks, src, "reading '/etc/passwd' outside the job directory")


def test_reading_the_node_data_dir_is_refused(
    executor: ProcessExecutor, attacks: Any, node_dir: Path
) -> None:
    key = str(node_dir / "node.key")
    refused(executor, attacks, "def f(p):\n    return open(p).read()\n", "outside the job", p=key)
    src = "def f(p):\n    import os\n    return os.listdir(p)\n"
    refused(executor, attacks, src, "reading", imports=("os",), p=str(node_dir))
    # numpy's own file readers go through the same check
    src = "def f(p):\n    import numpy as np\n    return np.fromfile(p, dtype=np.uint8)\n"
    refused(executor, attacks, src, "outside the job directory", p=key)


def test_proc_does_not_lead_out(executor: ProcessExecutor, attacks: Any) -> None:
    """The environment of another process (the server's secrets) and / through /proc/self."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, "UNSEEN_NODE_SECRET": SECRET},
    )
    try:
        # the secret is there to be stolen once the child has exec'd (before, environ is empty)
        deadline = time.monotonic() + 10.0
        while True:
            with open(f"/proc/{holder.pid}/environ", "rb") as f:
                if SECRET.encode() in f.read():
                    break
            assert time.monotonic() < deadline, "the holder process never showed its secret"
            time.sleep(0.01)
        src = "def f(p):\n    return open(p, 'rb').read()\n"
        path = f"/proc/{holder.pid}/environ"
        refused(executor, attacks, src, "outside the job directory", p=path)
    finally:
        holder.kill()
        holder.wait()
    src = "def f():\n    return open('/proc/self/root/etc/passwd').read()\n"
    refused(executor, attacks, src, "outside the job directory")


def test_writing_outside_the_job_dir_is_refused(
    executor: ProcessExecutor, attacks: Any, tmp_path: Path
) -> None:
    target = tmp_path / "planted.txt"
    src = "def f(p):\n    open(p, 'w').write('pwned')\n"
    refused(executor, attacks, src, f"writing {str(target)!r} outside", p=str(target))
    assert not target.exists()
    # a symlink planted in the job dir does not lead out either
    src = (
        "def f(p):\n    import os\n    os.symlink(p, 'link')\n"
        "    open('link', 'w').write('pwned')\n"
    )
    refused(executor, attacks, src, "outside the job directory", imports=("os",), p=str(target))
    assert not target.exists()


def test_writing_inside_the_job_dir_works(executor: ProcessExecutor) -> None:
    src = "def f():\n    open('scratch.txt', 'w').write('abc')\n    return open('scratch.txt').read()\n"
    outcome = run(executor, src)
    assert (outcome.status, outcome.result) == ("done", "abc"), outcome.reason


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, list[Any]]]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[Any] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_sockets_are_refused(
    executor: ProcessExecutor, attacks: Any, loopback_server: tuple[int, list[Any]]
) -> None:
    port, accepted = loopback_server
    connect = (
        "def f(port):\n    import socket\n"
        "    s = socket.create_connection(('127.0.0.1', port), timeout=2)\n    return 'connected'\n"
    )
    refused(executor, attacks, connect, "import of 'socket' is not allowed", port=port)
    # the owner allowed socket by mistake: the audit hook still refuses it
    refused(executor, attacks, connect, "network access (socket.", imports=("socket",), port=port)
    assert accepted == [], "a job reached the loopback server"


def test_fork_bomb_is_refused(executor: ProcessExecutor, attacks: Any) -> None:
    src = "def f():\n    import os\n    while True:\n        os.fork()\n"
    refused(executor, attacks, src, "starting a process (os.fork)", imports=("os",))


def test_memory_bombs_hit_the_memory_limit(executor: ProcessExecutor, attacks: Any) -> None:
    small = JobLimits(wall_seconds=60.0, memory_bytes=512 << 20)
    src = "def f():\n    import numpy as np\n    return np.ones(1 << 27).sum()\n"
    refused(executor, attacks, src, "memory limit (0.5 GiB) exceeded", limits=small)
    src = "def f():\n    chunks = []\n    while True:\n        chunks.append(bytearray(1 << 20))\n"
    refused(executor, attacks, src, "memory limit (0.5 GiB) exceeded", limits=small)


def test_huge_file_hits_the_file_size_limit(executor: ProcessExecutor, attacks: Any) -> None:
    src = (
        "def f():\n    with open('big.bin', 'wb') as out:\n        while True:\n"
        "            out.write(b'x' * 65536)\n"
    )
    refused(executor, attacks, src, "file size limit (1 MiB) exceeded")


def test_a_result_past_the_file_size_limit_fails(executor: ProcessExecutor, attacks: Any) -> None:
    src = "def f():\n    import numpy as np\n    return np.zeros(1 << 20)\n"  # 8 MiB > 1 MiB
    refused(executor, attacks, src, "larger than the file size limit")


@pytest.mark.parametrize(
    ("source", "imports", "reason"),
    [
        ("import ctypes\n    return ctypes.CDLL(None)", (), "import of 'ctypes' is not allowed"),
        ("import subprocess\n    return 1", (), "import of 'subprocess' is not allowed"),
        ("import os\n    return os.system('id')", (), "import of 'os' is not allowed"),
        ("import importlib\n    return 1", (), "import of 'importlib' is not allowed"),
        ("return __import__('os').getcwd()", (), "import of 'os' is not allowed"),
        ("from . import x\n    return x", (), "relative imports are not allowed"),
        ("import os\n    return os.system('id')", ("os",), "starting a process (os.system)"),
        (
            "import subprocess\n    return subprocess.run(['id']).returncode",
            ("subprocess",),
            "starting a process (subprocess.Popen)",
        ),
        ("import os\n    return os.kill(os.getppid(), 9)", ("os",), "sending a signal (os.kill)"),
        # modules reached through attributes of allowed ones meet the audit hook
        ("import torch\n    return torch.os.system('id')", (), "starting a process (os.system)"),
        (
            "import numpy as np\n    return np.ctypeslib.ctypes.CDLL(None).system(b'id')",
            (),
            "loading native code outside an import (ctypes.dlopen)",
        ),
        (
            "import numpy as np\n    return np.ctypeslib.ctypes.pythonapi.system(b'id')",
            (),
            "looking up native code in None",
        ),
        (
            "for c in ().__class__.__base__.__subclasses__():\n"
            "        if c.__name__ == '_wrap_close':\n"
            "            return c.__init__.__globals__['system']('id')",
            (),
            "starting a process (os.system)",
        ),
        (
            "try:\n        raise ValueError\n    except ValueError as e:\n"
            "        g = e.__traceback__.tb_frame.f_back.f_globals\n"
            "    real = g['__builtins__']\n"
            "    imp = real['__import__'] if isinstance(real, dict) else real.__import__\n"
            "    return imp('os').listdir('/')",
            (),
            "reading '/' outside the job directory",
        ),
    ],
    ids=[
        "ctypes",
        "subprocess",
        "os",
        "importlib",
        "dunder-import",
        "relative",
        "os.system-allowed-os",
        "subprocess-allowed",
        "kill-parent",
        "torch.os",
        "ctypeslib-dlopen",
        "pythonapi-dlsym",
        "subclasses-walk",
        "frame-walk",
    ],
)
def test_escapes_are_refused(
    executor: ProcessExecutor, attacks: Any, source: str, imports: tuple[str, ...], reason: str
) -> None:
    refused(executor, attacks, f"def f():\n    {source}\n", reason, imports=imports)


def test_the_job_sees_none_of_the_parents_environment(
    executor: ProcessExecutor, attacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNSEEN_NODE_SECRET", SECRET)
    assert os.environ["UNSEEN_NODE_SECRET"] == SECRET
    attacks.tried()
    outcome = run(
        executor, "def f():\n    import os\n    return dict(os.environ)\n", imports=("os",)
    )
    assert outcome.status == "done", outcome.reason
    assert SECRET not in repr(outcome.result)
    assert "UNSEEN_NODE_SECRET" not in outcome.result
    assert set(outcome.result) == set(worker_env("/x")), (
        "the job's environment is exactly the clean one"
    )
    attacks.refused += 1
    src = "def f():\n    import os\n    return os.environ['UNSEEN_NODE_SECRET']\n"
    refused(executor, attacks, src, "KeyError: 'UNSEEN_NODE_SECRET'", imports=("os",))


def test_infinite_loops_meet_the_deadline_and_the_cpu_limit(
    executor: ProcessExecutor, attacks: Any
) -> None:
    loop = "def f():\n    while True:\n        pass\n"
    out = refused(
        executor,
        attacks,
        loop,
        "wall-clock deadline (1.5 s) passed",
        limits=JobLimits(wall_seconds=1.5, cpu_seconds=60.0),
    )
    assert out.wall_seconds < 10
    out = refused(
        executor,
        attacks,
        loop,
        "CPU time limit (1 s) exceeded",
        limits=JobLimits(wall_seconds=60.0, cpu_seconds=1.0),
    )
    assert 0.5 <= out.cpu_seconds < 5  # rusage samples; the kernel's limit counts exactly
    assert "landlock" in out.isolation and "rlimits" in out.isolation


def test_a_result_serde_cannot_encode_fails(executor: ProcessExecutor, attacks: Any) -> None:
    src = "def f():\n    return object()\n"
    refused(executor, attacks, src, "the result cannot be encoded: UsageError: cannot serialize")


def test_an_exception_is_the_reason_and_its_traceback_the_stderr(
    executor: ProcessExecutor, attacks: Any
) -> None:
    src = "def f(x):\n    print('before')\n    raise ValueError(f'bad value {x}')\n"
    out = refused(executor, attacks, src, "ValueError: bad value 3", x=3)
    assert out.stdout == "before\n"
    assert 'File "<job f>", line 3, in f' in out.stderr


def test_a_job_killing_its_own_worker_fails_with_the_signal(
    executor: ProcessExecutor, attacks: Any
) -> None:
    src = "def f():\n    import os\n    os.abort()\n"
    out = refused(executor, attacks, src, "the worker was killed by SIGABRT", imports=("os",))
    assert out.status == "failed" and out.result is None


def test_without_a_network_namespace_sockets_are_still_refused(
    tmp_path: Path,
    attacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    loopback_server: tuple[int, list[Any]],
) -> None:
    """The kernel refused the namespace (as on machines without unprivileged user namespaces):
    the outcome says so, and the audit hook and landlock still keep the job off the network."""
    from unseen.jobs import _sandbox

    monkeypatch.setattr(
        _sandbox, "namespace_prefix", lambda: ((), "no network namespace (kernel refused)")
    )
    port, accepted = loopback_server
    with ProcessExecutor(max_workers=1, work_root=tmp_path) as ex:
        src = (
            "def f(port):\n    import socket\n"
            "    socket.create_connection(('127.0.0.1', port), timeout=2)\n"
        )
        out = refused(ex, attacks, src, "network access (socket.", imports=("socket",), port=port)
        assert out.isolation.startswith("no network namespace (kernel refused), landlock")
    assert accepted == []


def test_a_huge_exception_message_is_cut_in_the_reason(
    executor: ProcessExecutor, attacks: Any
) -> None:
    src = "def f():\n    raise ValueError('x' * 1_000_000)\n"
    out = refused(executor, attacks, src, "ValueError: xxx")
    assert len(out.reason) < 2100 and out.reason.endswith("(1000012 characters)")
