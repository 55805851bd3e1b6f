"""The `unseen` command: version, help, and the demo walkthrough."""

from __future__ import annotations

import typer

from unseen._version import __version__
from unseen.cli._launch import launch_app

app = typer.Typer(
    name="unseen",
    help="unseen: remote data science, learning from data you cannot see.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: typer's rich panels show flags as "<bool>"
)
app.add_typer(launch_app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"unseen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """unseen: remote data science, learning from data you cannot see."""


@app.command()
def demo() -> None:
    """Run the seed walkthrough: an owner, a data scientist, the diabetes data, a request."""
    from unseen.cli._demo import run_demo

    run_demo()


def main() -> None:
    app()
