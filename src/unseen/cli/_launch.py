"""``unseen launch domain``: run a domain node in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer

launch_app = typer.Typer(
    name="launch",
    help="Start a node in the foreground (stop it with Ctrl-C).",
    no_args_is_help=True,
    add_completion=False,
)


@launch_app.command("domain")
def domain(
    name: str = typer.Option(..., "--name", help="The node's name, e.g. 'May Clinic'."),
    port: int = typer.Option(8081, "--port", help="TCP port (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for all)."),
    data_dir: str | None = typer.Option(
        None, "--data-dir", help="Where the node keeps its data [default: ~/.unseen/<name>]."
    ),
    database: str | None = typer.Option(
        None, "--database", help="A PostgreSQL URL; default: SQLite in the data directory."
    ),
    owner_email: str | None = typer.Option(
        None, "--owner-email", envvar="UNSEEN_OWNER_EMAIL", help="The owner's email (first launch)."
    ),
    owner_password: str | None = typer.Option(
        None,
        "--owner-password",
        envvar="UNSEEN_OWNER_PASSWORD",
        help="The owner's password (first launch); generated if not given.",
    ),
    max_message_gib: float = typer.Option(
        8.0, "--max-message-gib", help="Largest message accepted, in GiB."
    ),
) -> None:
    """Start a domain node: private data with an HTTP and WebSocket API."""
    from unseen.errors import UnseenError
    from unseen.server import ServerSettings, describe, launch_domain

    settings = ServerSettings(max_message_bytes=int(max_message_gib * (1 << 30)))
    stop = threading.Event()
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        try:
            running = launch_domain(
                name,
                port=port,
                host=host,
                data_dir=data_dir,
                database=database,
                owner_email=owner_email,
                owner_password=owner_password,
                settings=settings,
            )
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
