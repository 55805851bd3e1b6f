"""The numpy part of the vocabulary: functions of ``numpy`` and ``numpy.linalg``, and the
methods and properties of the ``ndarray`` family (arrays and numpy scalars).

Signatures stop before a library's positional ``out``; ``out=``, ``where=`` on ufuncs (it
leaves uninitialized memory where false), ``overwrite_input=`` and ``copy=`` of
``nan_to_num`` (in place when false) are never listed.
"""

from __future__ import annotations

from unseen.ops._spec import OpSpec, block, with_dtype_checks

__all__ = ["numpy_specs"]

NP = "numpy"
LA = "numpy.linalg"

_UNARY_UFUNCS = """
abs absolute negative positive sign sqrt cbrt square exp exp2 expm1 log log2 log10 log1p
sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh
asin acos atan asinh acosh atanh deg2rad rad2deg degrees radians
floor ceil trunc rint fix reciprocal logical_not invert bitwise_not bitwise_invert
isnan isinf isfinite signbit conj conjugate spacing fabs sinc i0 : x / | dtype casting
"""

_BINARY_UFUNCS = """
add subtract multiply divide true_divide floor_divide mod remainder fmod power pow float_power
maximum minimum fmax fmin arctan2 atan2 hypot logaddexp logaddexp2 copysign heaviside nextafter
gcd lcm logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor left_shift
right_shift bitwise_left_shift bitwise_right_shift ldexp : x1 x2 / | dtype casting
equal not_equal less less_equal greater greater_equal : x1 x2 / | dtype casting
"""

_ELEMENTWISE_OTHER = """
clip : a a_min a_max | min max
isclose : a b rtol atol equal_nan
nan_to_num : x | nan posinf neginf
round around : a decimals
real imag isreal iscomplex : val
angle : z deg
interp : x xp fp left right period
"""

_REDUCTIONS = """
sum prod nansum nanprod : a axis dtype | keepdims initial where
mean nanmean : a axis dtype | keepdims where
std var nanstd nanvar : a axis dtype | ddof keepdims where mean correction
min max amin amax nanmin nanmax : a axis | keepdims initial where
argmin argmax nanargmin nanargmax : a axis | keepdims
median nanmedian : a axis | keepdims
percentile quantile nanpercentile nanquantile : a q axis | method keepdims weights
cumsum cumprod nancumsum nancumprod : a axis dtype
cumulative_sum cumulative_prod : x / | axis dtype include_initial
any all : a axis | keepdims where
count_nonzero : a axis | keepdims
average : a axis weights returned | keepdims
ptp : a axis | keepdims
diff : a n axis prepend append
corrcoef : x y rowvar | dtype
cov : m y rowvar bias ddof fweights aweights | dtype
trapezoid : y x dx axis
searchsorted : a v side sorter
digitize : x bins right
isin : element test_elements assume_unique invert | kind
intersect1d : ar1 ar2 assume_unique return_indices
union1d : ar1 ar2
setdiff1d setxor1d : ar1 ar2 assume_unique
"""

_SHAPE = """
reshape : a shape order | copy
transpose permute_dims : a axes
matrix_transpose : x /
swapaxes : a axis1 axis2
moveaxis : a source destination
squeeze : a axis
expand_dims : a axis
ravel : a order
histogram_bin_edges : a bins range weights
flip : m axis
fliplr flipud : m
rot90 : m k axes
roll : a shift axis
sort : a axis kind order | stable
argsort : a axis kind order | stable
atleast_1d atleast_2d atleast_3d : *arys
diagonal : a offset axis1 axis2
triu tril : m k
take : a indices axis | mode
take_along_axis : arr indices axis
argwhere flatnonzero : a
copy : a order
"""

_JOIN = """
concatenate concat : arrays axis | dtype casting
stack : arrays axis | dtype casting
vstack hstack : tup | dtype casting
column_stack dstack : tup
append : arr values axis
"""

_TO_VALUE = """
split array_split : ary indices_or_sections axis
nonzero : a
shape : a
"""

_PRODUCTS = """
dot vdot inner : a b
matmul : x1 x2 / | dtype casting
tensordot : a b axes
"""

_LINALG = """
trace : a offset axis1 axis2 dtype
cross : a b axisa axisb axisc axis
"""

_NUMPY_LINALG = """
norm : x ord axis keepdims
inv : a
det : a
solve : a b
svdvals : x /
eigvalsh : a UPLO
eigvals : a
pinv : a rcond hermitian | rtol
matrix_rank : A tol hermitian | rtol
cholesky : a | upper
matrix_power : a n
cond : x p
multi_dot : arrays
"""

_NUMPY_LINALG_VALUE = """
svd : a full_matrices compute_uv hermitian
eigh : a UPLO
eig : a
qr : a mode
lstsq : a b rcond
slogdet : a
"""

# (block, guard) for functions that allocate more than their inputs.
_CREATION = (
    ("zeros ones : shape dtype order", "shape"),
    ("full : shape fill_value dtype order", "shape"),
    ("zeros_like ones_like : a dtype order subok shape", "like"),
    ("full_like : a fill_value dtype order subok shape", "like"),
    ("arange : *args | start stop step dtype", "arange"),
    ("linspace : start stop num endpoint retstep dtype axis", "num"),
    ("logspace : start stop num endpoint base dtype axis", "num"),
    ("geomspace : start stop num endpoint dtype axis", "num"),
    ("eye : N M k dtype order", "eye"),
    ("identity : n dtype", "identity"),
    ("tri : N M k dtype", "eye"),
    ("array : object dtype | copy order ndmin", "astype"),
    ("asarray : a dtype order", "astype"),
)

_LARGE = (
    ("tile : A reps", "tile", "shape"),
    ("repeat : a repeats axis", "repeat", "shape"),
    ("broadcast_to : array shape", "broadcast_to", "shape"),
    ("outer : a b", "outer", "linalg"),
    ("kron : a b", "outer", "linalg"),
    ("diag : v k", "diag", "shape"),
    ("diagflat : v k", "diag", "shape"),
    ("pad : array pad_width mode | constant_values end_values reflect_type", "pad", "shape"),
    ("bincount : x / weights minlength", "bincount", "reduction"),
)


def _numpy_functions() -> list[OpSpec]:
    specs = block(_UNARY_UFUNCS, namespace=NP, category="elementwise", result="ndarray")
    specs += block(
        _BINARY_UFUNCS, namespace=NP, category="elementwise", result="ndarray", guard="broadcast"
    )
    specs += block(
        _ELEMENTWISE_OTHER,
        namespace=NP,
        category="elementwise",
        result="ndarray",
        guard="broadcast",
    )
    specs += block(
        "where : condition x y",
        namespace=NP,
        category="elementwise",
        result="@where",
        guard="broadcast",
    )
    specs += block(
        "divmod : x1 x2 / | dtype\nfrexp modf : x / | dtype",
        namespace=NP,
        category="elementwise",
        result="value",
        guard="broadcast",
    )
    specs += block(
        "allclose array_equal array_equiv : a1 a2 rtol atol equal_nan",
        namespace=NP,
        category="comparison",
        result="scalar",
        guard="broadcast",
    )
    specs += block(_REDUCTIONS, namespace=NP, category="reduction", result="ndarray")
    specs += block(
        "unique : ar return_index return_inverse return_counts axis | equal_nan sorted",
        namespace=NP,
        category="reduction",
        result="@unique",
    )
    specs += block(
        "histogram : a bins range density weights",
        namespace=NP,
        category="reduction",
        result="value",
        guard="bins",
    )
    specs += block(_SHAPE, namespace=NP, category="shape", result="ndarray")
    specs += block(_JOIN, namespace=NP, category="shape", result="ndarray", guard="concat")
    specs += block(
        "astype : x dtype / | copy",
        namespace=NP,
        category="conversion",
        result="ndarray",
        guard="astype",
    )
    specs += block(_TO_VALUE, namespace=NP, category="shape", result="value")
    specs += block("ndim size : a axis", namespace=NP, category="shape", result="scalar")
    specs += block(
        "meshgrid : *xi | indexing sparse copy",
        namespace=NP,
        category="shape",
        result="value",
        guard="meshgrid",
    )
    specs += block(_PRODUCTS, namespace=NP, category="linalg", result="ndarray", guard="matmul")
    specs += block(_LINALG, namespace=NP, category="linalg", result="ndarray")
    specs += block(
        "einsum : subscripts *operands | dtype casting optimize",
        namespace=NP,
        category="linalg",
        result="ndarray",
        checks=("einsum",),
        guard="einsum",
    )
    for text, guard in _CREATION:
        specs += block(
            text,
            namespace=NP,
            category="creation",
            result="ndarray",
            checks=("dtype",),
            guard=guard,
        )
    for text, guard, category in _LARGE:
        checks = ("pad_mode",) if guard == "pad" else ()
        specs += block(
            text, namespace=NP, category=category, result="ndarray", guard=guard, checks=checks
        )
    specs += block(_NUMPY_LINALG, namespace=LA, category="linalg", result="ndarray")
    specs += block(_NUMPY_LINALG_VALUE, namespace=LA, category="linalg", result="value")
    return with_dtype_checks(specs)


_ND_REDUCTIONS = """
sum prod : axis dtype | keepdims initial where
mean : axis dtype | keepdims where
std var : axis dtype | ddof keepdims where mean correction
min max : axis | keepdims initial where
argmin argmax : axis | keepdims
cumsum cumprod : axis dtype
any all : axis | keepdims where
trace : offset axis1 axis2 dtype
searchsorted : v side sorter
"""

_ND_SHAPE = """
reshape : *shape | order copy
transpose : *axes
swapaxes : axis1 axis2
squeeze : axis
ravel flatten : order
argsort : axis kind order | stable
take : indices axis | mode
diagonal : offset axis1 axis2
copy : order
clip : min max
round : decimals
conj conjugate :
"""


def _ndarray_methods() -> list[OpSpec]:
    fam = "ndarray"
    specs = block(_ND_REDUCTIONS, family=fam, category="reduction")
    specs += block(_ND_SHAPE, family=fam, category="shape")
    specs += block("repeat : repeats axis", family=fam, category="shape", guard="repeat")
    specs += block(
        "astype : dtype order casting | copy", family=fam, category="conversion", guard="astype"
    )
    specs += block("dot : b", family=fam, category="linalg", guard="matmul")
    specs += block("nonzero :", family=fam, category="shape", result="value")
    specs += block("item : *args", family=fam, category="conversion", result="scalar")
    specs += block("tolist :", family=fam, category="conversion", result="value")
    specs += block("T mT real imag :", family=fam, category="shape", kind="attr")
    specs += block("shape :", family=fam, category="shape", kind="attr", result="value")
    specs += block(
        "ndim size nbytes itemsize :", family=fam, category="shape", kind="attr", result="scalar"
    )
    return with_dtype_checks(specs)


def numpy_specs() -> list[OpSpec]:
    """Every numpy entry: functions first, then ndarray methods and properties."""
    return _numpy_functions() + _ndarray_methods()
