"""One side of a Duet, run as its own process by the tests: ``peer.py owner|scientist ...``.

owner NETWORK_URL DIR MODE: launch a Duet (MODE ``direct``: with a direct link; ``relay`` or
``webrtc``: without one; ``leave``/``leave-webrtc``: exit as soon as a request arrives), send
the seed's tensor, write the id to DIR/id, accept the first request, and stay until DIR/done
exists.
scientist NETWORK_URL DIR LINK: join with the id from DIR/id, run the seed's walkthrough, print
``LINK <link>`` and ``RESULT <value>`` (or ``ERROR <kind>: <message>``), then write DIR/done.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

import unseen


def owner(url: str, workdir: Path, mode: str) -> None:
    duet = unseen.launch_duet(network_url=url, direct=mode in ("direct", "leave"))
    hook = unseen.TorchHook(torch)
    data = torch.tensor([[0, 0], [0, 1]]).tag("data")
    data.send(duet, searchable=True)
    hook.unhook()
    (workdir / "id.tmp").write_text(duet.id)
    (workdir / "id.tmp").rename(workdir / "id")
    deadline = time.monotonic() + 60
    while not len(duet.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    if mode.startswith("leave"):
        duet.close()
        print("OWNER LEFT", flush=True)
        return
    print(duet.requests.pandas, flush=True)
    duet.requests[0].accept()
    while not (workdir / "done").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    duet.close()


def scientist(url: str, workdir: Path, link: str) -> None:
    deadline = time.monotonic() + 60
    while not (workdir / "id").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    duet = unseen.join_duet((workdir / "id").read_text(), network_url=url, link=link)
    print("LINK", duet.link, flush=True)
    print(duet.store.pandas, flush=True)
    assert duet.store[0].id == duet.store["data"].id
    data_ptr = duet.store["data"]
    sum_ptr = data_ptr.sum().item()
    try:
        total = sum_ptr.get(
            request_block=True, name="sum", reason="To see the result", timeout_secs=30
        )
        print("RESULT", total, flush=True)
    except unseen.UnseenError as exc:
        print(f"ERROR {type(exc).__name__}: {exc}", flush=True)
    finally:
        (workdir / "done").write_text("1")
        duet.close()


if __name__ == "__main__":
    role, net_url, folder, option = sys.argv[1:5]
    (owner if role == "owner" else scientist)(net_url, Path(folder), option)
