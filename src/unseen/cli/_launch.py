"""``unseen launch domain`` and ``unseen launch network``: run a node in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

# Options both launchers take.
Host = Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0 for all).")]
DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", help="Where the node keeps its data (default: ~/.unseen/<name>)."),
]
Database = Annotated[
    str | None,
    typer.Option("--database", help="A PostgreSQL URL; default: SQLite in the data directory."),
]
OwnerEmail = Annotated[
    str | None,
    typer.Option(
        "--owner-email", envvar="UNSEEN_OWNER_EMAIL", help="The owner's email (first launch)."
    ),
]
OwnerPassword = Annotated[
    str | None,
    typer.Option(
        "--owner-password",
        envvar="UNSEEN_OWNER_PASSWORD",
        help="The owner's password (first launch); generated if not given.",
    ),
]


launch_app = typer.Typer(
    name="launch",
    help="Start a node in the foreground (stop it with Ctrl-C).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: typer's rich panels show flags as "<bool>"
)


@launch_app.command("domain")
def domain(
    name: str = typer.Option(..., "--name", help="The node's name, e.g. 'May Clinic'."),
    port: int = typer.Option(8081, "--port", help="TCP port (0 picks a free one)."),
    host: Host = "127.0.0.1",
    data_dir: DataDir = None,
    database: Database = None,
    owner_email: OwnerEmail = None,
    owner_password: OwnerPassword = None,
    max_message_gib: float = typer.Option(
        8.0, "--max-message-gib", help="Largest message accepted, in GiB."
    ),
) -> None:
    """Start a domain node: private data with an HTTP and WebSocket API."""
    from unseen.server import ServerSettings, describe, launch_domain

    settings = ServerSettings(max_message_bytes=int(max_message_gib * (1 << 30)))
    _serve_until_stopped(
        lambda: launch_domain(
            name,
            port=port,
            host=host,
            data_dir=data_dir,
            database=database,
            owner_email=owner_email,
            owner_password=owner_password,
            settings=settings,
        ),
        describe,
    )


def _serve_until_stopped(start: Any, describe: Any) -> None:
    """Start a node with ``start()``, print ``describe(node)``, serve until Ctrl-C/SIGTERM."""
    from unseen.errors import UnseenError

    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            running = start()
        except UnseenError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        for line in describe(running):
            typer.echo(line)
        typer.echo("Press Ctrl-C to stop.", err=True)
        while not stop.wait(0.5):
            if not running.running:
                typer.echo("the server stopped unexpectedly", err=True)
                break
        typer.echo("Stopping...", err=True)
        running.stop()
        typer.echo("Stopped.", err=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@launch_app.command("network")
def network(
    name: str = typer.Option("unseen network", "--name", help="The network's name."),
    port: int = typer.Option(8080, "--port", help="TCP port (0 picks a free one)."),
    host: Host = "127.0.0.1",
    data_dir: DataDir = None,
    database: Database = None,
    owner_email: OwnerEmail = None,
    owner_password: OwnerPassword = None,
    auto_approve: bool = typer.Option(
        False, "--auto-approve", help="Accept every correctly signed registration at once."
    ),
    offline_after: float = typer.Option(
        30.0, "--offline-after", help="Seconds without a heartbeat before a domain is offline."
    ),
) -> None:
    """Start a network node: a registry of domains, search across them, a relay for NAT,
    and the Duet rendezvous."""
    from unseen.network import describe as describe_network
    from unseen.network import launch_network

    _serve_until_stopped(
        lambda: launch_network(
            name,
            port=port,
            host=host,
            data_dir=data_dir,
            database=database,
            owner_email=owner_email,
            owner_password=owner_password,
            auto_approve=auto_approve,
            offline_after=offline_after,
        ),
        describe_network,
    )
