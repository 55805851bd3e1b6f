"""The seed's Duet walkthrough with the owner and the scientist in two processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("nacl")

PEER = str(Path(__file__).with_name("peer.py"))


def _run(network: Any, tmp_path: Path, mode: str, link: str) -> tuple[str, str]:
    args = [network.url, str(tmp_path)]
    owner = subprocess.Popen(
        [sys.executable, PEER, "owner", *args, mode], stdout=subprocess.PIPE, text=True
    )
    try:
        scientist = subprocess.run(
            [sys.executable, PEER, "scientist", *args, link],
            capture_output=True,
            text=True,
            timeout=60,
        )
        out, _ = owner.communicate(timeout=30)
    finally:
        owner.kill()
    assert scientist.returncode == 0, scientist.stderr
    assert owner.returncode == 0
    return out, scientist.stdout


def _aiortc() -> Any:
    try:
        import aiortc  # noqa: F401
    except ImportError:
        return pytest.mark.skip(reason="the WebRTC link needs aiortc (pip install aiortc)")
    return []


@pytest.mark.parametrize(
    ("mode", "link"),
    [
        ("direct", "auto"),
        ("relay", "relay"),
        pytest.param("webrtc", "webrtc", marks=_aiortc()),
        pytest.param("relay", "auto", id="auto-without-direct", marks=_aiortc()),
    ],
)
def test_seed_walkthrough(network: Any, tmp_path: Path, mode: str, link: str) -> None:
    owner_out, out = _run(network, tmp_path, mode, link)
    assert "Send the following code to your Duet Partner!" in owner_out
    assert f'network_url="{network.url}")' in owner_out
    assert "Request Name" in owner_out and "sum" in owner_out
    assert "Send the Duet Client ID back to your Duet Partner!" in out
    assert f"LINK {'webrtc' if link == 'auto' and mode == 'relay' else mode}" in out
    assert "ID" in out and "Tags" in out and "Description" in out and "[data]" in out
    assert "RESULT 1" in out


@pytest.mark.parametrize(
    ("mode", "link"),
    [("leave", "auto"), pytest.param("leave-webrtc", "webrtc", marks=_aiortc())],
)
@pytest.mark.slow
def test_owner_leaving_fails_the_pending_get(
    network: Any, tmp_path: Path, mode: str, link: str
) -> None:
    owner_out, out = _run(network, tmp_path, mode, link)
    assert f"LINK {link if link != 'auto' else 'direct'}" in out
    assert "OWNER LEFT" in owner_out
    assert "RESULT" not in out
    assert "ERROR" in out and ("ended" in out or "left" in out), out
