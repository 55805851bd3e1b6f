"""The kernel walls of a job worker, each on its own, with no Python-level fence in front.

The hostile-job suite meets the audit hook and the import guard first; these run plain
``python -c`` programs inside one wall at a time (the network namespace, landlock, the
rlimits) and check that the wall alone stops them, beside a control run that shows the same
program succeeding without it (so the test could fail).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from unseen.jobs._landlock import landlock_abi
from unseen.jobs._sandbox import SRC_ROOT, namespace_prefix

CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3).close()\n"
    "    print('connected')\n"
    "except OSError as e:\n"
    "    print('refused', e.errno)\n"
)


@pytest.fixture
def server() -> Iterator[tuple[int, list[object]]]:
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(srv.accept()[0])
            except TimeoutError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], accepted
    stop.set()
    t.join()
    srv.close()


def py(
    *args: str, prefix: tuple[str, ...] = (), timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-I", "-c", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={},
    )


def test_the_network_namespace_alone_stops_a_connection(
    server: tuple[int, list[object]],
) -> None:
    prefix, layer = namespace_prefix()
    if not prefix:
        pytest.skip(f"this machine gives no network namespace: {layer}")
    port, accepted = server
    control = py(CONNECT, str(port))
    assert control.stdout.strip() == "connected", control.stderr
    inside = py(CONNECT, str(port), prefix=prefix)
    assert inside.stdout.startswith("refused"), (inside.stdout, inside.stderr)
    assert len(accepted) == 1, "only the control run may reach the server"


LANDLOCKED = """
import os, socket, sys
sys.path.insert(0, sys.argv[1])
from unseen.jobs._landlock import restrict_filesystem
job, secret, port = sys.argv[2], sys.argv[3], int(sys.argv[4])
reads = [sys.prefix, sys.base_prefix, sys.argv[1], '/lib', '/usr/lib', '/lib64']
print(restrict_filesystem(read=reads, write=[job]) if sys.argv[5] == 'on' else 'off')
open(os.path.join(job, 'ok.txt'), 'w').write('fine')
print('job dir', open(os.path.join(job, 'ok.txt')).read())
for what, action in [
    ('read secret', lambda: open(secret).read()),
    ('read passwd', lambda: open('/etc/passwd').read()),
    ('read parent environ', lambda: open(f'/proc/{os.getppid()}/environ', 'rb').read()),
    ('read via proc root', lambda: open('/proc/self/root/etc/passwd').read()),
    ('write outside', lambda: open(secret + '.planted-' + sys.argv[5], 'w')),
    ('connect', lambda: socket.create_connection(('127.0.0.1', port), timeout=3)),
    ('signal parent', lambda: os.kill(os.getppid(), 0)),
]:
    try:
        action()
        print(what, 'ALLOWED')
    except OSError as e:
        print(what, 'refused', e.errno)
"""


def test_landlock_alone_closes_files_tcp_and_signals(
    tmp_path: Path, server: tuple[int, list[object]]
) -> None:
    abi = landlock_abi()
    if abi < 1:
        pytest.skip("this kernel has no landlock")
    port, accepted = server
    job = tmp_path / "job"
    job.mkdir()
    secret = tmp_path / "node.key"
    secret.write_text("key")
    args = (SRC_ROOT, str(job), str(secret), str(port))
    control = py(LANDLOCKED, *args, "off")
    assert "read secret ALLOWED" in control.stdout, control.stderr
    assert "connect ALLOWED" in control.stdout
    done = py(LANDLOCKED, *args, "on")
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"landlock ABI {abi}"), (done.stdout, done.stderr)
    assert "job dir fine" in lines
    assert "read parent environ ALLOWED" in control.stdout
    for what in (
        "read secret",
        "read passwd",
        "read parent environ",
        "read via proc root",
        "write outside",
    ):
        assert f"{what} refused 13" in lines, done.stdout  # EACCES
    if abi >= 4:
        assert "connect refused 13" in lines, done.stdout
    if abi >= 6:
        assert "signal parent refused 1" in lines, done.stdout  # EPERM
    assert (tmp_path / "node.key.planted-off").exists()
    assert not (tmp_path / "node.key.planted-on").exists()
    assert len(accepted) == 1, "only the control run may reach the server"


LIMITED = """
import sys
sys.path.insert(0, sys.argv[1])
from unseen.jobs._worker import apply_limits
limits = dict(cpu_seconds=1.0, memory_bytes=256 << 20, file_bytes=1 << 16, processes=64,
              output_bytes=1 << 10)
if sys.argv[2] == 'on':
    apply_limits(limits)
try:
    bytearray(512 << 20)
    print('memory ALLOWED')
except MemoryError:
    print('memory refused')
try:
    with open(sys.argv[3], 'wb') as f:
        f.write(b'x' * (1 << 17))
    print('file ALLOWED')
except OSError as e:
    print('file refused', e.errno)
sys.stdout.flush()
if sys.argv[2] == 'on':
    while True:
        pass
"""


def test_rlimits_alone_stop_memory_file_size_and_cpu(tmp_path: Path) -> None:
    control = py(LIMITED, SRC_ROOT, "off", str(tmp_path / "a.bin"))
    assert control.stdout.split("\n")[:2] == ["memory ALLOWED", "file ALLOWED"], control.stderr
    done = py(LIMITED, SRC_ROOT, "on", str(tmp_path / "b.bin"))
    assert done.stdout.split("\n")[:2] == ["memory refused", "file refused 27"], done.stderr
    assert done.returncode in (-24, -9), done.returncode  # SIGXCPU, then SIGKILL at the hard limit
    assert (tmp_path / "b.bin").stat().st_size <= 1 << 16
