"""Names that are never allowed, each with a reason category, and the refusal messages.

The table decides what runs; this module only explains refusals. A name that is in no table
is refused either way: with a reason if it matches a rule here, else as "not in unseen's
vocabulary" (ask for a code request).

Decisions: ``tobytes``/``tostring`` are refused (raw memory is not an analysis result and
would bypass the dtype and family checks); ``tolist``/``item`` are allowed (plain Python
values of the same data). ``ndarray.sort``/``partition`` mutate their receiver and are
refused on arrays (``numpy.sort`` and ``tensor.sort`` return new objects). ``map`` is refused
outright (``replace`` covers mapping values with a dict).
"""

from __future__ import annotations

from unseen.errors import OperationNotAllowed
from unseen.ops._families import DISPLAY

__all__ = ["REASONS", "banned_reason", "refuse_anywhere", "refuse_method", "refuse_function"]

#: Reason category -> what the message says.
REASONS: dict[str, str] = {
    "io": "I/O is never allowed on a node",
    "pickle": "pickle paths are never allowed on a node",
    "attribute walk": "attribute walks and private attributes are never reachable",
    "in-place": "in-place operations are not allowed; every result is a new object",
    "eval": "evaluating strings as code is never allowed",
    "callable": "user functions cannot run through the vocabulary; send a code request",
    "memory": "uninitialized memory, raw bytes and storage access are never allowed",
    "device": "device moves are not allowed",
    "autograd": "autograd hooks and graph access are not allowed",
}

_EXACT: dict[str, str] = {}


def _add(reason: str, names: str) -> None:
    for name in names.split():
        _EXACT[name] = reason


_add(
    "io",
    """tofile save savez savez_compressed savetxt loadtxt genfromtxt fromfile from_file memmap
    fromregex open to_csv to_excel to_json to_parquet to_feather to_hdf to_sql to_stata to_html
    to_latex to_markdown to_xml to_orc to_clipboard to_string to_gbq ExcelWriter HDFStore""",
)
_add(
    "pickle",
    """load loads dump dumps to_pickle read_pickle __reduce__ __reduce_ex__ __getstate__
    __setstate__ __getnewargs__ __getnewargs_ex__""",
)
_add(
    "eval",
    "eval exec compile query numexpr evaluate",
)
_add(
    "callable",
    """apply applymap map pipe vectorize frompyfunc apply_along_axis apply_over_axes piecewise
    fromfunction register_hook agg_callable map_partitions""",
)
_add(
    "in-place",
    """__setitem__ __delitem__ __setattr__ __delattr__ __iadd__ __isub__ __imul__ __itruediv__
    __ifloordiv__ __imod__ __ipow__ __imatmul__ __iand__ __ior__ __ixor__ __ilshift__ __irshift__
    insert pop update fill resize put itemset setfield setflags copyto place putmask
    put_along_axis fill_diagonal set_axis""",
)
_add(
    "memory",
    """empty empty_like empty_strided new_empty ndarray Tensor FloatTensor DoubleTensor LongTensor
    IntTensor BoolTensor frombuffer from_dlpack data_ptr storage untyped_storage
    storage_offset ctypes data tobytes tostring share_memory_ __array_interface__
    __array_struct__ __dlpack__ __dlpack_device__ __buffer__""",
)
_add(
    "device",
    "cuda cpu mps xpu ipu hip pin_memory is_pinned to_device",
)
_add(
    "autograd",
    """backward retain_grad grad grad_fn requires_grad_ register_post_accumulate_grad_hook
    detach_""",
)

# Methods that are harmless elsewhere but mutate their receiver in these families.
_FAMILY: dict[tuple[str, str], str] = {
    ("ndarray", "sort"): "in-place",
    ("ndarray", "partition"): "in-place",
    ("ndarray", "byteswap"): "in-place",
    ("ndarray", "view"): "memory",
    ("ndarray", "getfield"): "memory",
    ("scalar", "format"): "attribute walk",
    ("scalar", "format_map"): "attribute walk",
}


def banned_reason(name: str, family: str | None = None) -> str | None:
    """The reason category that bans ``name`` (a method name, or a function's short name)."""
    if family is not None and (family, name) in _FAMILY:
        return _FAMILY[(family, name)]
    if name in _EXACT:
        return _EXACT[name]
    if name.startswith("read_"):
        return "io"
    if name.startswith("_"):
        return "attribute walk"
    if name.endswith("_"):
        return "in-place"
    if name.startswith("register_") and name.endswith("hook"):
        return "autograd"
    return None


def _refuse(exc_text: str, reason: str | None) -> OperationNotAllowed:
    exc = OperationNotAllowed(exc_text)
    exc.reason = reason  # type: ignore[attr-defined]
    return exc


def refuse_method(name: str, family: str, hint: str | None = None) -> OperationNotAllowed:
    """The error for a method, property or operator that ``family`` does not allow."""
    where = DISPLAY.get(family, family)
    reason = banned_reason(name, family)
    extra = f" {hint}" if hint else ""
    if reason is not None:
        return _refuse(
            f"'{name}' is not an allowed operation on {where} ({REASONS[reason]}).{extra} "
            "See dir(pointer) for the allowed ones.",
            reason,
        )
    return _refuse(
        f"'{name}' is not in unseen's vocabulary for {where}.{extra} See dir(pointer) for the "
        "allowed ones, or ask the node owner to run it as a code request.",
        None,
    )


def refuse_function(
    qualified: str, namespaces: tuple[str, ...], hint: str | None = None
) -> OperationNotAllowed:
    """The error for a function that is not in the vocabulary."""
    namespace, _, short = qualified.rpartition(".")
    reason = banned_reason(short)
    extra = f" {hint}" if hint else ""
    if namespace not in namespaces:
        where = (
            f"'{namespace}' is not an allowed namespace (allowed: {', '.join(namespaces)})"
            if namespace
            else "functions must be qualified, e.g. 'numpy.log'"
        )
        text = f"'{qualified}' is not an allowed function: {where}."
        if reason is not None:
            text = f"'{qualified}' is not an allowed function ({REASONS[reason]}): {where}."
        return _refuse(text + extra, reason)
    see = f"See unseen.ops.functions_of('{namespace}') for the allowed ones."
    if reason is not None:
        return _refuse(
            f"'{qualified}' is not an allowed function ({REASONS[reason]}).{extra} {see}",
            reason,
        )
    return _refuse(
        f"'{qualified}' is not in unseen's vocabulary.{extra} {see} Or ask the node owner to run "
        "it as a code request.",
        None,
    )


def refuse_anywhere(name: str) -> OperationNotAllowed:
    """The error for a method name that no family allows."""
    reason = banned_reason(name)
    if reason is not None:
        return _refuse(
            f"'{name}' is not an allowed operation ({REASONS[reason]}). See dir(pointer) for the "
            "allowed ones.",
            reason,
        )
    return _refuse(
        f"'{name}' is not in unseen's vocabulary for any kind of value; ask the node owner to run "
        "it as a code request.",
        None,
    )
