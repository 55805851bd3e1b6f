"""Helpers for the domain server tests: real server processes on loopback, SQLite or PostgreSQL.

Every server test runs against both backends (the ``backend`` fixture): SQLite in the test's
data directory, and a fresh PostgreSQL database on 127.0.0.1:5432 (``UNSEEN_TEST_PG`` names
another server; the PostgreSQL half is skipped when none answers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import unseen

PG_ADMIN_URL = os.environ.get("UNSEEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
OWNER_EMAIL = "owner@clinic.org"
OWNER_PASSWORD = "s3cret-pw"
LAUNCH = "import sys; from unseen.cli import main; sys.argv[0] = 'unseen'; main()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``unseen launch domain`` as a subprocess: start, stop (SIGINT), kill (SIGKILL), restart."""

    def __init__(
        self, data_dir: Path, database: str | None, name: str = "May Clinic", *extra: str
    ) -> None:
        self.data_dir = data_dir
        self.database = database
        self.name = name
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.log = data_dir.parent / f"{data_dir.name}-server.log"
        self.output = ""

    def start(
        self, owner: tuple[str, str] | None = (OWNER_EMAIL, OWNER_PASSWORD), timeout: float = 30.0
    ) -> str:
        cmd = [sys.executable, "-c", LAUNCH, "launch", "domain", "--name", self.name]
        cmd += ["--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra]
        if self.database:
            cmd += ["--database", self.database]
        if owner is not None:
            cmd += ["--owner-email", owner[0], "--owner-password", owner[1]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("UNSEEN_OWNER")}
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/health", timeout=1.0).status_code == 200:
                    time.sleep(0.05)
                    self.output = self.log.read_text()
                    return self.output
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(20)
        self.output = self.log.read_text()
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(20)
            self.proc = None

    def restart(self) -> str:
        self.stop()
        return self.start()

    def login(
        self, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD, **kwargs: object
    ) -> unseen.Client:
        return unseen.login(url=self.url, email=email, password=password, verbose=False, **kwargs)


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    import psycopg

    name = f"unseen_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
