"""``unseen.share``: the light entry point of secret sharing (torch loads on first use).

See :mod:`unseen.client._mpc_session` for the sessions themselves.
"""

from __future__ import annotations

from typing import Any

__all__ = ["share", "close_sessions"]


def share(
    value: Any,
    *parties: Any,
    crypto_provider: Any = None,
    requires_grad: bool = False,
    **options: Any,
) -> Any:
    """Secret-share ``value`` among ``parties`` (node clients) with a crypto provider.

    ``value`` is a tensor (or array, number) of yours, a :class:`~unseen.Pointer` to data
    on one of the parties (its node inputs it: the data never passes through you), or a
    ``torch.nn.Module`` (its parameters are shared). Returns an
    :class:`~unseen.mpc.MPCTensor`, or an :class:`~unseen.mpc.EncryptedModule` for a model.
    The same parties (in the same order) and crypto provider share one session, so what
    is shared with them combines. ``options`` (``frac_bits``, ``timeout``) apply when a new
    session starts::

        x = unseen.share(torch.tensor([1.0, 2.0]), bob, alice, theo, crypto_provider=crypto)
        (x * x).get()
    """
    from unseen.client._mpc_session import share_value

    return share_value(
        value, *parties, crypto_provider=crypto_provider, requires_grad=requires_grad, **options
    )


def close_sessions() -> None:
    """Close every MPC session this process opened (the nodes' runtimes stop)."""
    import sys

    module = sys.modules.get("unseen.client._mpc_session")
    if module is not None:
        module.close_sessions()
