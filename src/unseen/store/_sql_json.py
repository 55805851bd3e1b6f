"""JSON column types that give records back exactly as they were stored.

Plain JSON has lists and string-keyed objects only, so a tuple would come back a list and a
frozenset would not come back at all. The typed columns here restore the record's own types:

- :class:`StrTuple` and :class:`StrSet`: a JSON list of str, read back as a tuple or a
  frozenset (a set is stored sorted, so equal sets store equal text);
- :class:`Tagged`: any nesting of None, bool, int, float, str, list, tuple, set, frozenset,
  dict and bytes. JSON-native values are stored as they are; the others as a one-key object
  whose key names the type (``{"~t": [...]}`` for a tuple, ``{"~fs": [...]}``, ``{"~s": [...]}``,
  ``{"~b": "base64"}``, ``{"~f": "nan"}`` for a non-finite float, and ``{"~d": [[k, v], ...]}``
  for a dict whose keys are not all str or that could be mistaken for a tag). Numpy scalars
  are stored as the Python numbers they equal;
- :class:`Assets`: a dataset's list of :class:`AssetRecord`, each a JSON object.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import asdict
from typing import Any

import numpy as np
from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from unseen.errors import UsageError
from unseen.store._records import AssetRecord

__all__ = ["Assets", "StrSet", "StrTuple", "Tagged", "from_tagged", "to_tagged"]

_TAGS = frozenset({"~t", "~s", "~fs", "~b", "~f", "~d"})


def _sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def to_tagged(value: Any) -> Any:
    """``value`` as JSON-native data (see the module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"~f": repr(float(value))}
    if isinstance(value, list):
        return [to_tagged(v) for v in value]
    if isinstance(value, tuple):
        return {"~t": [to_tagged(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        items = sorted((to_tagged(v) for v in value), key=_sort_key)
        return {"~fs" if isinstance(value, frozenset) else "~s": items}
    if isinstance(value, dict):
        plain = all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)) in _TAGS
        )
        if plain:
            return {k: to_tagged(v) for k, v in value.items()}
        return {"~d": [[to_tagged(k), to_tagged(v)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {"~b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, np.generic) and not isinstance(value, (np.void, np.object_)):
        return to_tagged(value.item())
    raise UsageError(
        f"cannot store a {type(value).__name__} in a record field: use None, bool, int, float, "
        "str, bytes, list, tuple, set, frozenset or dict"
    )


def from_tagged(data: Any) -> Any:
    """The value that :func:`to_tagged` turned into ``data``."""
    if isinstance(data, list):
        return [from_tagged(v) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        ((key, inner),) = data.items()
        if key == "~t":
            return tuple(from_tagged(v) for v in inner)
        if key == "~fs":
            return frozenset(from_tagged(v) for v in inner)
        if key == "~s":
            return {from_tagged(v) for v in inner}
        if key == "~b":
            return base64.b64decode(inner)
        if key == "~f":
            return float(inner)
        if key == "~d":
            return {from_tagged(k): from_tagged(v) for k, v in inner}
    return {k: from_tagged(v) for k, v in data.items()}


class _JSONType(TypeDecorator[Any]):
    impl = JSON
    cache_ok = True  # SQLAlchemy reads this from each class itself: the subclasses repeat it


class StrTuple(_JSONType):
    """A tuple of str, stored as a JSON list."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else [str(v) for v in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else tuple(value)


class StrSet(_JSONType):
    """A frozenset of str, stored as a sorted JSON list."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else sorted(str(v) for v in value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else frozenset(value)


class Tagged(_JSONType):
    """Any nesting of plain values, restored with its exact container types."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return to_tagged(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return from_tagged(value)


class Assets(_JSONType):
    """A list of :class:`AssetRecord`, stored as a JSON list of objects."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return [{k: to_tagged(v) for k, v in asdict(a).items()} for a in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return [AssetRecord(**{k: from_tagged(v) for k, v in a.items()}) for a in value]
