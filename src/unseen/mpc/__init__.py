"""unseen.mpc: secure multi-party computation on secret-shared tensors.

Additive secret sharing over Z_2^64 with fixed-point encoding, N >= 2 semi-honest parties and
a trusted dealer (crypto provider) that hands out seeds and corrections. See docs/mpc.md::

    import torch
    from unseen.mpc import LocalCluster, share_module

    with LocalCluster(["bob", "alice", "theo"], dealer="crypto") as cluster:
        x = cluster.share(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
        (x * x).get(), (x @ x).get(), (x > 3).get(), x.relu().get()

This package imports only the standard library, numpy, torch, ``unseen.errors`` and the
crypto libraries (``cryptography``, or PyNaCl), so any node runtime can embed it.
"""

from unseen.mpc import functional
from unseen.mpc.autograd import no_grad
from unseen.mpc.cluster import Cluster, LocalCluster, check_roles
from unseen.mpc.comm import Comm, Message
from unseen.mpc.dealer import Dealer
from unseen.mpc.encoding import DEFAULT_FRAC_BITS, FixedPoint, RangeWarning
from unseen.mpc.loopback import LoopbackCluster
from unseen.mpc.nn import EncryptedModule, share_module
from unseen.mpc.optim import SGD
from unseen.mpc.party import Party
from unseen.mpc.tensor import MPCTensor

__all__ = [
    "Cluster",
    "LocalCluster",
    "LoopbackCluster",
    "MPCTensor",
    "share_module",
    "EncryptedModule",
    "SGD",
    "functional",
    "no_grad",
    "FixedPoint",
    "RangeWarning",
    "DEFAULT_FRAC_BITS",
    "check_roles",
    "Comm",
    "Message",
    "Party",
    "Dealer",
]
