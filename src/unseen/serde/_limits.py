"""The bounds that decoding untrusted bytes must stay within (:class:`Limits`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from unseen.errors import UsageError

__all__ = ["Limits", "DEFAULT_LIMITS"]

_KIB = 1024
_MIB = 1024 * _KIB
_GIB = 1024 * _MIB


@dataclass(frozen=True)
class Limits:
    """Caps that :func:`unseen.serde.decode` enforces before it allocates anything.

    Every field is a positive int. A message that breaks one is refused with
    :class:`~unseen.errors.DecodeError`; raise a field (``dataclasses.replace``) to accept more.

    Attributes:
        max_bytes: the whole message, in bytes.
        max_header_bytes: the msgpack header (everything but the out-of-band array buffers).
        max_depth: nesting of containers (list, tuple, dict, set, registered types).
        max_container_len: items in one list, tuple, set or dict; also the number of
            out-of-band buffers.
        max_containers: containers and typed values (arrays, scalars, ...) in one message.
        max_str_len: one str or bytes value in the header, in bytes.
        max_array_bytes: the data of one array, tensor or pandas object, in bytes (also a
            cap on its element count).
    """

    max_bytes: int = 16 * _GIB
    max_header_bytes: int = 256 * _MIB
    max_depth: int = 32
    max_container_len: int = 10_000_000
    max_containers: int = 2_000_000
    max_str_len: int = 64 * _MIB
    max_array_bytes: int = 4 * _GIB

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value <= 0:
                raise UsageError(f"Limits.{f.name} must be a positive int, got {value!r}")
        if self.max_depth > 512:
            raise UsageError(
                f"Limits.max_depth must be at most 512 (msgpack nests at most 1024 arrays), "
                f"got {self.max_depth}"
            )


DEFAULT_LIMITS = Limits()
