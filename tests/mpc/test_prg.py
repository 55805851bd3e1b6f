"""The cryptographic PRG: deterministic per (seed, counter), disjoint streams, uniform bits."""

from __future__ import annotations

import pytest
import torch

from unseen.errors import UsageError
from unseen.mpc.prg import PRG, available_backends, new_seed


@pytest.mark.parametrize("backend", available_backends())
def test_streams_are_deterministic_and_distinct(backend: str) -> None:
    seed = new_seed()
    a, b = PRG(seed, backend), PRG(seed, backend)
    x1, x2 = a.words(5, [100, 7])
    y1, y2 = b.words(5, [100, 7])
    assert torch.equal(x1, y1) and torch.equal(x2, y2)
    assert not torch.equal(a.words(6, [100])[0], x1)
    assert not torch.equal(PRG(new_seed(), backend).words(5, [100])[0], x1)
    # a longer draw extends the same stream
    assert torch.equal(a.words(5, [107])[0][:100], x1)


@pytest.mark.parametrize("backend", available_backends())
def test_output_bits_are_balanced(backend: str) -> None:
    w = PRG(new_seed(), backend).words(1, [100_000])[0]
    bits = torch.stack([(w >> k) & 1 for k in range(64)]).double().mean(dim=1)
    # 100k samples per bit: the standard deviation of a mean is 0.0016
    assert bool(((bits - 0.5).abs() < 0.01).all())


def test_aes_matches_the_library_keystream() -> None:
    if "aes" not in available_backends():
        pytest.skip("cryptography missing")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    seed = new_seed()
    ours = PRG(seed, "aes").words(3, [4])[0].numpy().tobytes()
    enc = Cipher(algorithms.AES(seed), modes.CTR((3).to_bytes(8, "big") + bytes(8))).encryptor()
    assert ours == enc.update(bytes(32))


def test_bad_seeds_are_refused() -> None:
    with pytest.raises(UsageError):
        PRG(b"short")
    with pytest.raises(UsageError):
        PRG(new_seed(), "mt19937")


@pytest.mark.parametrize("backend", available_backends())
def test_protocols_run_on_every_backend(backend: str) -> None:
    from unseen.mpc import LocalCluster

    a = torch.tensor([-2.5, -1.0, 0.0, 0.5, 3.0])
    with LocalCluster(2, prg=backend, timeout=20) as c:
        x = c.share(a)
        assert torch.equal((x * x).get(), a * a)
        assert torch.equal(x.relu().get(), a.relu())
