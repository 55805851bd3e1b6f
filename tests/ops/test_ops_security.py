"""Dangerous names are refused by lookup and by execute, before anything runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from unseen.errors import OperationNotAllowed, UsageError
from unseen.ops import (
    FAMILIES,
    Action,
    ExecutionError,
    Ref,
    execute,
    functions_of,
    lookup_function,
    lookup_method,
    methods_of,
    namespaces,
)
from unseen.ops._registry import all_specs

# name -> expected reason category (None: simply not in the vocabulary)
DANGEROUS_METHODS: dict[str, str | None] = {
    "__class__": "attribute walk",
    "__subclasses__": "attribute walk",
    "__init__": "attribute walk",
    "__new__": "attribute walk",
    "__globals__": "attribute walk",
    "__dict__": "attribute walk",
    "__getattribute__": "attribute walk",
    "__getattr__": "attribute walk",
    "__call__": "attribute walk",
    "__array_function__": "attribute walk",
    "__torch_function__": "attribute walk",
    "_mgr": "attribute walk",
    "__reduce__": "pickle",
    "__reduce_ex__": "pickle",
    "__getstate__": "pickle",
    "__setstate__": "pickle",
    "__setattr__": "in-place",
    "__delattr__": "in-place",
    "__setitem__": "in-place",
    "__delitem__": "in-place",
    "__iadd__": "in-place",
    "tofile": "io",
    "save": "io",
    "to_csv": "io",
    "to_parquet": "io",
    "to_json": "io",
    "to_excel": "io",
    "to_sql": "io",
    "to_hdf": "io",
    "to_string": "io",
    "read_csv": "io",
    "load": "pickle",
    "dump": "pickle",
    "dumps": "pickle",
    "to_pickle": "pickle",
    "query": "eval",
    "eval": "eval",
    "apply": "callable",
    "applymap": "callable",
    "map": "callable",
    "pipe": "callable",
    "register_hook": "callable",
    "register_forward_hook": "autograd",
    "add_": "in-place",
    "copy_": "in-place",
    "fill_": "in-place",
    "fill": "in-place",
    "resize": "in-place",
    "put": "in-place",
    "itemset": "in-place",
    "insert": "in-place",
    "pop": "in-place",
    "update": "in-place",
    "data_ptr": "memory",
    "storage": "memory",
    "untyped_storage": "memory",
    "tobytes": "memory",
    "ctypes": "memory",
    "data": "memory",
    "__array_interface__": "memory",
    "__dlpack__": "memory",
    "share_memory_": "memory",
    "cuda": "device",
    "cpu": "device",
    "pin_memory": "device",
    "backward": "autograd",
    "grad": "autograd",
    "grad_fn": "autograd",
    "requires_grad_": "autograd",
    "detach_": "autograd",
    "format": None,
    "frobnicate": None,
}

DANGEROUS_FUNCTIONS: dict[str, str | None] = {
    "numpy.load": "pickle",
    "numpy.save": "io",
    "numpy.savez": "io",
    "numpy.fromfile": "io",
    "numpy.loadtxt": "io",
    "numpy.memmap": "io",
    "numpy.frompyfunc": "callable",
    "numpy.vectorize": "callable",
    "numpy.apply_along_axis": "callable",
    "numpy.piecewise": "callable",
    "numpy.fromfunction": "callable",
    "numpy.empty": "memory",
    "numpy.empty_like": "memory",
    "numpy.ndarray": "memory",
    "numpy.frombuffer": "memory",
    "numpy.copyto": "in-place",
    "numpy.put": "in-place",
    "numpy.fill_diagonal": "in-place",
    "torch.load": "pickle",
    "torch.save": "io",
    "torch.from_file": "io",
    "torch.empty": "memory",
    "torch.empty_like": "memory",
    "torch.empty_strided": "memory",
    "torch.Tensor": "memory",
    "torch.from_dlpack": "memory",
    "torch.relu_": "in-place",
    "torch.nn.functional.relu_": "in-place",
    "pandas.read_pickle": "pickle",
    "pandas.read_csv": "io",
    "pandas.read_parquet": "io",
    "pandas.eval": "eval",
    "numpy.__builtins__": "attribute walk",
    "os.system": None,
    "builtins.eval": "eval",
    "subprocess.run": None,
    "numpy.random.default_rng": None,
    "numpy.lib.format.read_array": None,
    "numpy": None,
    "log": None,
    "": None,
}

_ENV_BY_FAMILY = {
    "ndarray": np.arange(6.0),
    "tensor": torch.arange(6.0),
    "dataframe": pd.DataFrame({"a": [1, 2]}),
    "series": pd.Series([1.0, 2.0]),
    "index": pd.Index([1, 2]),
    "groupby": pd.DataFrame({"a": [1, 2]}).groupby("a"),
    "indexer": pd.DataFrame({"a": [1, 2]}).loc,
    "scalar": 3,
    "value": (1, 2),
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", sorted(DANGEROUS_METHODS))
def test_dangerous_method_refused_by_lookup(family: str, name: str) -> None:
    with pytest.raises(OperationNotAllowed) as info:
        lookup_method(family, name)
    message = str(info.value)
    assert f"'{name}'" in message
    reason = DANGEROUS_METHODS[name]
    if reason is not None and not (family == "scalar" and name == "format"):
        assert getattr(info.value, "reason", None) == reason, message
    if getattr(info.value, "reason", None) is None:
        assert "code request" in message
    else:
        assert "See dir(pointer)" in message


@pytest.mark.parametrize("qualified", sorted(DANGEROUS_FUNCTIONS))
def test_dangerous_function_refused_by_lookup(qualified: str) -> None:
    with pytest.raises(OperationNotAllowed) as info:
        lookup_function(qualified)
    assert f"'{qualified}'" in str(info.value)
    reason = DANGEROUS_FUNCTIONS[qualified]
    if reason is not None:
        assert getattr(info.value, "reason", None) == reason, str(info.value)


def _failing_first() -> Action:
    """An action that would raise ExecutionError if anything ran."""
    return Action("boom", "function", "numpy.linalg.inv", (Ref("singular"),))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", sorted(DANGEROUS_METHODS))
def test_dangerous_method_refused_by_execute_before_running(family: str, name: str) -> None:
    env = {"singular": np.zeros((2, 2)), "x": _ENV_BY_FAMILY[family]}
    actions = [_failing_first(), Action("bad", "method", name, (Ref("x"),))]
    with pytest.raises(OperationNotAllowed, match=f"'{name}'"):
        execute(actions, env)


@pytest.mark.parametrize("name", sorted(DANGEROUS_METHODS))
def test_dangerous_method_on_a_computed_receiver_refused_before_running(name: str) -> None:
    env = {"singular": np.zeros((2, 2)), "x": np.arange(3.0)}
    actions = [
        _failing_first(),
        Action("y", "method", "__add__", (Ref("x"), 1)),
        Action("bad", "method", name, (Ref("y"),)),
    ]
    with pytest.raises(OperationNotAllowed, match=f"'{name}'"):
        execute(actions, env)


@pytest.mark.parametrize("name", sorted(DANGEROUS_METHODS))
def test_dangerous_attr_refused_by_execute(name: str) -> None:
    env = {"singular": np.zeros((2, 2)), "x": torch.ones(2)}
    with pytest.raises(OperationNotAllowed, match=f"'{name}'"):
        execute([_failing_first(), Action("bad", "attr", name, (Ref("x"),))], env)


@pytest.mark.parametrize("qualified", sorted(DANGEROUS_FUNCTIONS))
def test_dangerous_function_refused_by_execute_before_running(qualified: str) -> None:
    env = {"singular": np.zeros((2, 2)), "x": np.arange(3.0)}
    actions = [_failing_first(), Action("bad", "function", qualified, (Ref("x"),))]
    with pytest.raises(OperationNotAllowed) as info:
        execute(actions, env)
    assert f"'{qualified}'" in str(info.value)


def test_the_failing_action_alone_does_fail() -> None:
    with pytest.raises(ExecutionError):
        execute([_failing_first()], {"singular": np.zeros((2, 2))})


# Functions whose short name is banned as a method, and why the function is safe: it returns
# a new value and changes nothing (unseen/ops/_autograd.py).
SANCTIONED_FUNCTIONS = {"torch.autograd.grad": "gradients of a scalar by the graph's leaves"}


def test_no_entry_is_a_dangerous_name() -> None:
    for spec in all_specs():
        short = spec.short
        assert short not in DANGEROUS_METHODS or spec.name in SANCTIONED_FUNCTIONS, spec.name
        assert spec.kind == "function" or short not in DANGEROUS_METHODS, spec.name
        assert spec.name not in DANGEROUS_FUNCTIONS, spec.name
        assert not (short.endswith("_") and not short.endswith("__")), spec.name
        assert not short.startswith("_") or (short.startswith("__") and short.endswith("__")), (
            spec.name
        )
        assert not {"out", "inplace", "device", "requires_grad", "regex", "engine"} & spec.kwargs, (
            spec.name
        )
        assert "sort" not in short or "key" not in spec.kwargs, spec.name
        assert spec.kind != "function" or "empty" not in short, spec.name


def test_every_dtype_parameter_is_checked() -> None:
    for spec in all_specs():
        if "dtype" in spec.kwargs or "dtype" in spec.params:
            assert "dtype" in spec.checks or "torch_dtype" in spec.checks, spec.name


def test_listings_hide_dunders_and_are_sorted() -> None:
    for family in FAMILIES:
        names = methods_of(family)
        assert list(names) == sorted(names)
        assert not any(n.startswith("_") for n in names)
    for namespace in namespaces():
        names = functions_of(namespace)
        assert names and list(names) == sorted(names)
    assert "numpy.random" not in namespaces()
    with pytest.raises(UsageError):
        methods_of("module")
    with pytest.raises(UsageError):
        functions_of("os")


def test_len_is_client_side_except_for_values() -> None:
    for family in FAMILIES:
        if family != "value":
            with pytest.raises(OperationNotAllowed):
                lookup_method(family, "__len__")
    assert lookup_method("value", "__len__").name == "value.__len__"


def test_in_place_refusal_suggests_the_out_of_place_name() -> None:
    with pytest.raises(OperationNotAllowed, match="Use the out-of-place 'add' instead"):
        lookup_method("tensor", "add_")


def test_message_names_the_family_and_reason() -> None:
    with pytest.raises(OperationNotAllowed) as info:
        lookup_method("ndarray", "tofile")
    assert str(info.value) == (
        "'tofile' is not an allowed operation on numpy arrays (I/O is never allowed on a node). "
        "See dir(pointer) for the allowed ones."
    )
    with pytest.raises(OperationNotAllowed, match="not in unseen's vocabulary.*code request"):
        lookup_method("dataframe", "frobnicate")


def test_kind_must_match_the_entry() -> None:
    env = {"x": np.ones(3)}
    with pytest.raises(UsageError, match="property"):
        execute([Action("y", "method", "T", (Ref("x"),))], env)
    with pytest.raises(UsageError, match="a method"):
        execute([Action("y", "attr", "sum", (Ref("x"),))], env)
    with pytest.raises(UsageError, match="Ref"):
        execute([Action("y", "method", "sum", (np.ones(3),))], env)


def test_tensor_to_allows_only_dtypes() -> None:
    env = {"x": torch.ones(3), "y": torch.ones(3, dtype=torch.float64)}
    for args in (("cuda",), ("cpu",), (Ref("y"),), ("float32",)):
        with pytest.raises(OperationNotAllowed):
            execute([Action("z", "method", "to", (Ref("x"), *args))], env)
    with pytest.raises(OperationNotAllowed):
        execute([Action("z", "method", "to", (Ref("x"),), {"device": "cpu"})], env)
    out = execute([Action("z", "method", "to", (Ref("x"), torch.float64))], env)["z"]
    assert out.dtype == torch.float64


def test_forced_training_flag_cannot_be_set() -> None:
    env = {"x": torch.ones(3)}
    for kwargs in ({"training": True}, {"inplace": True}):
        with pytest.raises(OperationNotAllowed):
            execute(
                [Action("z", "function", "torch.nn.functional.dropout", (Ref("x"),), kwargs)], env
            )
    with pytest.raises(OperationNotAllowed, match="positional"):
        execute(
            [Action("z", "function", "torch.nn.functional.dropout", (Ref("x"), 0.5, True))], env
        )
