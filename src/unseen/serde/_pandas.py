"""pandas DataFrame, Series and Index as Arrow IPC streams; pandas is imported only when met."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from unseen.errors import DecodeError, UsageError

from . import _arrow
from ._wire import DATAFRAME, EXT, INDEX, INDEX_OBJECT, SERIES, short, type_name

if TYPE_CHECKING:
    from ._decode import Decoder
    from ._encode import Encoder

__all__ = ["encode_pandas", "BUILDERS"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise DecodeError("the message holds pandas objects but pandas is not installed") from None
    return pandas


def _ipc(enc: Encoder, frame: Any, what: str, keep_index: bool) -> bytes | int:
    """``frame`` (str column labels) as Arrow IPC data, bytes or a buffer index."""
    pa = _arrow.pyarrow()
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None if keep_index else False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise UsageError(f"cannot serialize this {what}: Arrow cannot hold it: {exc}") from exc
    _arrow.check_encodable(table.schema, what)
    return enc.data(_arrow.IpcStream(table))


def _labels(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def encode_pandas(enc: Encoder, obj: Any) -> list[Any] | None:
    """The wire form of a DataFrame, Series or Index; None for other pandas objects.

    Values go through Arrow; the index and column labels are Index values of their own,
    and names go through this codec, so they keep their Python types (int labels, tuple
    names, ...).
    """
    pd = _pandas()
    cls = type(obj)
    if cls is pd.DataFrame:
        flat = obj.set_axis(_labels(obj.shape[1]), axis=1)
        return [EXT[DATAFRAME], _ipc(enc, flat, "DataFrame", False), obj.columns, obj.index]
    if cls is pd.Series:
        flat = obj.to_frame(name="0")
        return [EXT[SERIES], _ipc(enc, flat, "Series", False), obj.name, obj.index]
    if isinstance(obj, pd.Index):
        if cls.__module__.partition(".")[0] != "pandas":
            raise UsageError(f"cannot serialize {type_name(cls)}: only pandas' own Index types")
        if obj.dtype == object and not isinstance(obj, pd.MultiIndex):
            return [EXT[INDEX_OBJECT], tuple(obj), obj.name]
        freq = obj.freqstr if isinstance(obj, (pd.DatetimeIndex, pd.TimedeltaIndex)) else None
        names = list(obj.names)
        if type(obj) is pd.RangeIndex:
            return [EXT[INDEX], "range", [obj.start, obj.stop, obj.step], names, freq]
        flat = obj.to_frame(index=False).set_axis(_labels(obj.nlevels), axis=1)
        return [EXT[INDEX], "columns", _ipc(enc, flat, "Index", False), names, freq]
    return None


def _to_pandas(dec: Decoder, data: Any) -> Any:
    view, _ = dec.frame.take(data)
    table = _arrow.read_ipc(view, dec.limits)
    return table.to_pandas()


def _build_frame(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    pd = _pandas()
    if len(items) != 3 or not all(isinstance(i, pd.Index) for i in items[1:]):
        raise DecodeError("a DataFrame needs 3 fields: data, columns and index (Index values)")
    data, columns, index = items
    depth = dec.child_depth(items) + 1
    df = _to_pandas(dec, data)
    if df.shape[1] != len(columns):
        raise DecodeError(f"DataFrame has {df.shape[1]} columns but {len(columns)} labels")
    if df.shape[1] == 0:
        return pd.DataFrame(index=index, columns=columns), depth
    if len(df) != len(index):
        raise DecodeError(f"DataFrame has {len(df)} rows but its index {len(index)}")
    df.columns = columns
    df.index = index
    return df, depth


def _build_series(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    pd = _pandas()
    if len(items) != 3 or not isinstance(items[2], pd.Index):
        raise DecodeError("a Series needs 3 fields: data, name and index (an Index)")
    data, name, index = items
    depth = dec.child_depth(items) + 1
    df = _to_pandas(dec, data)
    if df.shape[1] != 1 or len(df) != len(index):
        raise DecodeError(f"a Series needs 1 column of {len(index)} rows, got {df.shape}")
    series = df.iloc[:, 0]
    series.name = name
    series.index = index
    return series, depth


def _build_index(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    pd = _pandas()
    if len(items) != 4 or type(items[2]) is not list:
        raise DecodeError("an Index needs 4 fields: kind, data, names, freq")
    kind, data, names, freq = items
    depth = dec.child_depth(items) + 1
    if kind == "range":
        if len(data) != 3 or any(type(i) is not int for i in data) or data[2] == 0:
            raise DecodeError("a RangeIndex needs 3 ints: start, stop, step (not 0)")
        index = pd.RangeIndex(*data)
    elif kind == "columns":
        df = _to_pandas(dec, data)
        if df.shape[1] == 0:
            raise DecodeError("an Index needs at least one column")
        index = pd.Index(df.iloc[:, 0]) if df.shape[1] == 1 else pd.MultiIndex.from_frame(df)
    else:
        raise DecodeError(f"unknown Index kind {short(kind)}")
    if len(names) != index.nlevels:
        raise DecodeError(f"an Index of {index.nlevels} levels needs as many names")
    index = index.set_names(names)
    if freq is not None:
        if type(freq) is not str or len(freq) > 64:
            raise DecodeError("an Index freq must be a short str")
        if not isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
            raise DecodeError("only a DatetimeIndex or TimedeltaIndex has a freq")
        index = type(index)(index, freq=freq)
    return index, depth


def _build_index_object(dec: Decoder, items: list[Any]) -> tuple[Any, int]:
    pd = _pandas()
    if len(items) != 2 or type(items[0]) is not tuple:
        raise DecodeError("an object Index needs 2 fields: a tuple of values, a name")
    depth = dec.child_depth(items) + 1
    return pd.Index(list(items[0]), dtype=object, name=items[1]), depth


BUILDERS = {
    DATAFRAME: _build_frame,
    SERIES: _build_series,
    INDEX: _build_index,
    INDEX_OBJECT: _build_index_object,
}
