"""Running a domain server: uvicorn on a socket we bind ourselves, in a background thread.

Binding the socket first (``unseen.server._listen``) makes ``port=0`` work (the OS picks a free
port and ``.url`` is known before the server starts) and reports a port in use at once, with a
clear message. :func:`launch_server` and :func:`running_lines` are the steps every launcher
shares (``launch_domain`` here, ``unseen.network.launch_network``): open the node, serve it (or
close it again), and say where it runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from unseen.errors import UsageError
from unseen.server._domain import Domain, open_domain
from unseen.server._listen import bind_socket, check_port, listener_url
from unseen.server._service import ServerSettings

START_TIMEOUT_S = 30.0


class BackgroundServer:
    """A node's FastAPI app served by uvicorn in a background thread, on a socket bound here.
    ``stop()`` it (or use ``with``). Subclasses build the app and add what stopping needs."""

    kind = "node"

    def __init__(self, domain: Domain, host: str, port: int, app: Any, ws_max_size: int) -> None:
        import uvicorn

        self.domain = domain
        self.name = domain.node.name
        self.data_dir: Path = domain.data_dir
        self.owner_email: str = domain.owner_email
        self.owner_password: str | None = domain.owner_password
        self._sock = bind_socket(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.url = listener_url(host, self.port)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            lifespan="off",
            ws_max_size=ws_max_size,
            ws_ping_interval=20.0,
            ws_ping_timeout=60.0,
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"unseen-{self.kind}-{self.port}", daemon=True
        )
        self._error: BaseException | None = None
        self._stopped = False
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise UsageError(
                    f"the {self.kind} server did not start: {self._error or 'timed out'}"
                )
            time.sleep(0.005)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:
            self._error = exc

    def _before_stop(self) -> None:
        """Hook: what must end before the server does (a subclass's sessions and waits)."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close the stores and release the data directory (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._before_stop()
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        try:
            self._sock.close()
        finally:
            self.domain.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.name!r} at {self.url} ({state})>"


class RunningDomain(BackgroundServer):
    """A domain node serving in a background thread. ``stop()`` it (or use ``with``)."""

    kind = "domain"

    def __init__(
        self, domain: Domain, host: str, port: int, settings: ServerSettings | None = None
    ) -> None:
        from unseen.node import resume_memberships, serve_mesh_on
        from unseen.server._app import create_app

        serve_mesh_on(domain.node, host)  # MPC mesh listeners open on the host we serve on
        self.node = domain.node
        app = create_app(domain, settings)
        super().__init__(domain, host, port, app, app.state.service.settings.ws_frame_max)
        resume_memberships(domain.node)  # the networks it joined, in the background

    def _before_stop(self) -> None:
        from unseen.node import close_sessions

        close_sessions(self.domain.node)  # MPC peers see the links break, not a timeout
        self.domain.node.notify_decision()  # blocked request waits return at once


def launch_domain(
    name: str,
    port: int = 0,
    host: str = "127.0.0.1",
    data_dir: str | os.PathLike[str] | None = None,
    database: str | None = None,
    owner_email: str | None = None,
    owner_password: str | None = None,
    *,
    settings: ServerSettings | None = None,
) -> RunningDomain:
    """Start a domain node in a background thread; returns once it answers.

    Data lives in ``data_dir`` (default ``~/.unseen/<slug of name>``): SQLite ``node.db``
    unless ``database`` is a PostgreSQL URL, object values in ``blobs/``, the node identity
    in ``identity.json``. The first launch creates the owner (a password is generated unless
    given here or by ``UNSEEN_OWNER_PASSWORD``); read it from ``.owner_password``.
    """
    return launch_server(
        port,
        lambda: open_domain(
            name,
            data_dir=data_dir,
            database=database,
            owner_email=owner_email,
            owner_password=owner_password,
        ),
        lambda domain: RunningDomain(domain, host, port, settings),
    )


Served = TypeVar("Served", bound=BackgroundServer)


def launch_server(
    port: int, open_node: Callable[[], Domain], serve: Callable[[Domain], Served]
) -> Served:
    """``serve(open_node())`` once ``port`` is known to be one; the node is closed again (its
    data directory released) when serving fails to start."""
    check_port(port)
    domain = open_node()
    try:
        return serve(domain)
    except BaseException:
        domain.close()
        raise


def database_label(domain: Domain) -> str:
    """The store's URL without its password, for what a launcher prints."""
    stores: Any = domain.stores
    url = getattr(getattr(stores, "engine", None), "url", None)
    return str(url.render_as_string(hide_password=True)) if url is not None else "in memory"


def detail_line(label: str, value: object) -> str:
    """One indented ``label:  value`` line under a launcher's first line (values aligned)."""
    return f"  {label + ':':<11}{value}"


def owner_lines(domain: Domain) -> list[str]:
    """The owner's credentials as a launcher prints them (a password only when new)."""
    if domain.owner_created:
        lines = [
            detail_line("owner", domain.owner_email),
            detail_line("password", domain.owner_password),
        ]
    else:
        lines = [detail_line("owner", f"{domain.owner_email} (exists already; password unchanged)")]
    return lines + [detail_line("note", note) for note in domain.notes]


def running_lines(
    running: BackgroundServer,
    *,
    role: Sequence[str] = (),
    ids: Sequence[str] = (),
    then: str,
) -> list[str]:
    """What a launcher prints: where the node runs, its ``role`` lines, its data, its ``ids``
    and key, the owner's credentials (a password only when new), and ``then``, the next step."""
    domain = running.domain
    return [
        f"unseen {running.kind} {running.name!r} is running at {running.url}",
        *role,
        detail_line("data", f"{domain.data_dir}  (database: {database_label(domain)})"),
        *ids,
        detail_line("node key", domain.identity.public_key),
        *owner_lines(domain),
        then,
    ]


def describe(running: RunningDomain) -> list[str]:
    """What ``unseen launch domain`` prints."""
    return running_lines(
        running,
        ids=[detail_line("node id", running.domain.node.id)],
        then=detail_line("log in", f"unseen.login(url={running.url!r}, email=..., password=...)"),
    )
