"""The multi-process engine: parties and dealer as processes over loopback TCP."""

from __future__ import annotations

import pytest
import torch

from unseen.errors import ProtocolError, UsageError
from unseen.mpc.loopback import LoopbackCluster


@pytest.mark.slow
def test_processes_over_tcp() -> None:
    with LoopbackCluster(["bob", "alice", "theo"], dealer="crypto", timeout=20) as c:
        a = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
        x = c.share(a)
        assert torch.equal((x + x).get(), a + a)
        assert torch.equal((x * x).get(), a * a)
        assert (x @ x).get().item() == 55.0
        assert torch.equal((x > 3).get(), (a > 3).float())
        assert torch.equal((x - 3).relu().get(), (a - 3).relu())
        big = torch.randn(300, 200)
        y = c.share(big)
        assert ((y @ y.T).get() - big @ big.T).abs().max() < 0.01
        stats = c.stats()
        assert len({s["pid"] for s in stats}) == 3  # really separate processes
        assert all(s["rounds"] > 0 for s in stats)
        pids = [p.pid for p in c.processes]
    assert all(not p.is_alive() for p in c.processes) and len(pids) == 4


def test_killed_party_process_is_reported() -> None:
    c = LoopbackCluster(2, timeout=3)
    try:
        x = c.share(torch.ones(4))
        x.get()
        c.processes[1].kill()
        c.processes[1].join()
        with pytest.raises(ProtocolError, match="party 1"):
            (x * x).get()
    finally:
        c.close()


def test_roles_are_checked_before_anything_starts() -> None:
    with pytest.raises(UsageError):
        LoopbackCluster(["a", "b"], dealer="a")
