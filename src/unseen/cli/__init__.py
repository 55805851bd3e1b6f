"""The `unseen` console command."""

from unseen.cli._main import main

__all__ = ["main"]
