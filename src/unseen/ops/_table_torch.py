"""The torch part of the vocabulary: functions of ``torch`` and ``torch.linalg``, and the
methods and properties of the ``tensor`` family. ``torch.nn.functional`` is in
:mod:`unseen.ops._table_nn`.

Never listed: ``out=``, in-place methods (names ending in ``_``), ``device=`` and device
moves, ``requires_grad=``, storage access, autograd hooks, uninitialized ``empty*``.
"""

from __future__ import annotations

from dataclasses import replace

from unseen.ops._spec import OpSpec, block, methods_from_functions, with_dtype_checks

__all__ = ["torch_specs"]

T = "torch"
LA = "torch.linalg"

_UNARY = """
abs absolute neg negative positive sign sgn sqrt rsqrt square exp exp2 expm1 log log2 log10
log1p sin cos tan asin acos atan arcsin arccos arctan sinh cosh tanh asinh acosh atanh arcsinh
arccosh arctanh sigmoid relu floor ceil trunc fix frac reciprocal logical_not bitwise_not
isnan isinf isfinite isposinf isneginf isreal signbit erf erfc erfinv lgamma digamma deg2rad
rad2deg conj real imag angle sinc i0 : input
round : input | decimals
nan_to_num : input nan posinf neginf
logit : input eps
clamp clip : input min max
lerp : input end weight
softmax log_softmax : input dim | dtype
"""

_BINARY = """
add sub subtract : input other | alpha
div divide : input other | rounding_mode
mul multiply true_divide floor_divide remainder fmod float_power maximum minimum fmax fmin
atan2 arctan2 hypot logaddexp logaddexp2 copysign xlogy gcd lcm nextafter eq ne lt le gt ge
greater less greater_equal less_equal not_equal logical_and logical_or logical_xor bitwise_and
bitwise_or bitwise_xor : input other
pow : input exponent
addcmul addcdiv : input tensor1 tensor2 | value
heaviside : input values
isclose : input other rtol atol equal_nan
"""

_REDUCTIONS = """
sum nansum mean nanmean prod : input dim keepdim | dtype
std var : input dim unbiased keepdim | correction
amin amax argmin argmax logsumexp : input dim keepdim
any all : input dim keepdim
quantile nanquantile : input q dim keepdim | interpolation
cumsum cumprod : input dim | dtype
logcumsumexp count_nonzero : input dim
norm : input p dim keepdim dtype
dist : input other p
diff : input n dim prepend append
cov : input | correction fweights aweights
corrcoef : input
argsort : input dim descending | stable
searchsorted : sorted_sequence input | out_int32 right side sorter
bucketize : input boundaries | out_int32 right
"""

_REDUCTIONS_VALUE = """
std_mean var_mean : input dim unbiased keepdim | correction
aminmax : input | dim keepdim
mode : input dim keepdim
kthvalue : input k dim keepdim
cummax cummin : input dim
topk : input k dim largest sorted
sort : input dim descending | stable
"""

_SHAPE = """
reshape : input shape
transpose : input dim0 dim1
swapaxes : input axis0 axis1
swapdims : input dim0 dim1
permute : input dims
t ravel fliplr flipud argwhere clone : input
squeeze unsqueeze : input dim
flatten : input start_dim end_dim
unflatten : input dim sizes
flip : input dims
roll : input shifts dims
rot90 : input k dims
movedim moveaxis : input source destination
narrow : input dim start length
gather : input dim index | sparse_grad
index_select : input dim index
masked_select : input mask
masked_fill : input mask value
take : input index
take_along_dim : input indices dim
diagonal : input offset dim1 dim2
triu tril : input diagonal
atleast_1d atleast_2d atleast_3d : *tensors
"""

_JOIN = """
cat concat concatenate : tensors dim
stack : tensors dim
hstack vstack dstack column_stack : tensors
"""

_SHAPE_VALUE = """
chunk : input chunks dim
split : tensor split_size_or_sections dim
tensor_split : input indices_or_sections dim
unbind : input dim
"""

_LARGE = (
    ("tile : input dims", "tile"),
    ("repeat_interleave : input repeats dim | output_size", "repeat"),
    ("broadcast_to : input size", "broadcast_to"),
    ("diag : input diagonal", "diag"),
    ("diag_embed : input offset dim1 dim2", "diag"),
    ("kron : input other", "outer"),
    ("outer : input vec2", "outer"),
    ("cdist : x1 x2 p compute_mode", "cdist"),
    ("bincount : input weights minlength", "bincount"),
    ("histc : input bins min max", "bins"),
)

_PRODUCTS = """
matmul : input other
mm bmm : input mat2
mv : input vec
dot vdot inner : input other
tensordot : a b dims
"""

_LINALG = """
trace det logdet inverse : input
pinverse : input rcond
cross : input other dim
matrix_power : input n
"""

_CREATION = (
    ("zeros ones : *size | dtype", "shape"),
    ("full : size fill_value | dtype", "shape"),
    ("zeros_like ones_like : input | dtype", "like"),
    ("full_like : input fill_value | dtype", "like"),
    ("arange : *args | start end step dtype", "arange"),
    ("linspace : start end steps | dtype", "num"),
    ("logspace : start end steps base | dtype", "num"),
    ("eye : n m | dtype", "eye"),
    ("tensor : data | dtype", None),
    ("as_tensor : data dtype", None),
)

_TORCH_LINALG = """
norm matrix_norm : A ord dim keepdim | dtype
vector_norm : x ord dim keepdim | dtype
inv det : A
solve : A B | left
svdvals : A | driver
eigvalsh : A UPLO
eigvals : A
pinv : A | atol rtol hermitian
cholesky : A | upper
matrix_rank : A | atol rtol hermitian
matrix_power : A n
cross : input other | dim
multi_dot : tensors
vecdot : x y | dim
"""

_TORCH_LINALG_VALUE = """
slogdet : A
svd : A full_matrices | driver
eigh : A UPLO
eig : A
qr : A mode
lstsq : A B rcond | driver
"""


def _functions() -> list[OpSpec]:
    specs = block(_UNARY, namespace=T, category="elementwise", result="tensor", guard="broadcast")
    specs += block(_BINARY, namespace=T, category="elementwise", result="tensor", guard="broadcast")
    specs += block(
        "where : condition input other",
        namespace=T,
        category="elementwise",
        result="@where",
        guard="broadcast",
    )
    specs += block(
        "allclose : input other rtol atol equal_nan\nequal : input other",
        namespace=T,
        category="comparison",
        result="scalar",
        guard="broadcast",
    )
    specs += block(_REDUCTIONS, namespace=T, category="reduction", result="tensor")
    specs += block(
        "min max median nanmedian : input dim keepdim",
        namespace=T,
        category="reduction",
        result="@torch_dim",
    )
    specs += block(_REDUCTIONS_VALUE, namespace=T, category="reduction", result="value")
    specs += block(
        "unique : input sorted return_inverse return_counts dim\n"
        "unique_consecutive : input return_inverse return_counts dim",
        namespace=T,
        category="reduction",
        result="@unique",
    )
    specs += block(
        "histogram : input bins | range weight density",
        namespace=T,
        category="reduction",
        result="value",
        guard="bins",
    )
    specs += block(_SHAPE, namespace=T, category="shape", result="tensor")
    specs += block(_JOIN, namespace=T, category="shape", result="tensor", guard="concat")
    specs += block(_SHAPE_VALUE, namespace=T, category="shape", result="value")
    specs += block("nonzero : input | as_tuple", namespace=T, category="shape", result="@nonzero")
    specs += block(
        "numel is_floating_point is_complex : input", namespace=T, category="shape", result="scalar"
    )
    specs += block(
        "broadcast_tensors : *tensors",
        namespace=T,
        category="shape",
        result="value",
        guard="broadcast_tensors",
    )
    specs += block(
        "meshgrid : *tensors | indexing",
        namespace=T,
        category="shape",
        result="value",
        guard="meshgrid",
    )
    for text, guard in _LARGE:
        specs += block(text, namespace=T, category="shape", result="tensor", guard=guard)
    specs += block(_PRODUCTS, namespace=T, category="linalg", result="tensor", guard="matmul")
    specs += block(_LINALG, namespace=T, category="linalg", result="tensor")
    specs += block("slogdet : input", namespace=T, category="linalg", result="value")
    specs += block(
        "einsum : equation *operands",
        namespace=T,
        category="linalg",
        result="tensor",
        checks=("einsum",),
        guard="einsum",
    )
    for text, size_guard in _CREATION:
        specs += block(text, namespace=T, category="creation", result="tensor", guard=size_guard)
    specs += block(_TORCH_LINALG, namespace=LA, category="linalg", result="tensor")
    specs += block(_TORCH_LINALG_VALUE, namespace=LA, category="linalg", result="value")
    return specs


# torch functions that are also Tensor methods with the same parameters after ``input``.
_SHARED_METHODS = """
abs absolute neg negative positive sign sgn sqrt rsqrt square exp exp2 expm1 log log2 log10
log1p sin cos tan asin acos atan arcsin arccos arctan sinh cosh tanh asinh acosh atanh arcsinh
arccosh arctanh sigmoid relu floor ceil trunc fix frac reciprocal logical_not bitwise_not isnan
isinf isfinite isposinf isneginf isreal signbit erf erfc erfinv lgamma digamma deg2rad rad2deg
conj angle sinc i0 round nan_to_num logit clamp clip lerp softmax log_softmax
add sub subtract div divide mul multiply true_divide floor_divide remainder fmod float_power
maximum minimum fmax fmin atan2 arctan2 hypot logaddexp logaddexp2 copysign xlogy gcd lcm
nextafter eq ne lt le gt ge greater less greater_equal less_equal not_equal logical_and
logical_or logical_xor bitwise_and bitwise_or bitwise_xor pow heaviside isclose allclose equal
sum nansum mean nanmean prod std var amin amax argmin argmax logsumexp any all quantile
nanquantile cumsum cumprod logcumsumexp count_nonzero norm dist diff cov corrcoef argsort
min max median nanmedian aminmax mode kthvalue cummax cummin topk sort unique
unique_consecutive histogram bincount histc
transpose swapaxes swapdims t ravel fliplr flipud argwhere clone squeeze unsqueeze flatten
unflatten flip roll rot90 movedim moveaxis narrow gather index_select masked_select masked_fill
take take_along_dim diagonal triu tril chunk split tensor_split unbind nonzero numel
is_floating_point is_complex repeat_interleave broadcast_to diag diag_embed kron outer
matmul mm bmm mv dot vdot inner trace det logdet slogdet inverse pinverse cross matrix_power
"""

_TENSOR_METHODS = """
float double half bfloat16 long int short bool byte char cfloat cdouble detach contiguous :
expand_as view_as reshape_as type_as : other
where : condition other
"""


def _tensor_methods(functions: list[OpSpec]) -> list[OpSpec]:
    fam = "tensor"
    torch_fns = [s for s in functions if s.namespace == T]
    specs = methods_from_functions(torch_fns, fam, _SHARED_METHODS.split())
    specs += block(_TENSOR_METHODS, family=fam, category="conversion")
    specs += block("reshape view : *shape", family=fam, category="shape")
    specs += block("permute : *dims", family=fam, category="shape")
    specs += block("tile : *dims", family=fam, category="shape", guard="tile")
    specs += block("expand : *sizes", family=fam, category="shape", guard="expand")
    specs += block("repeat : *sizes", family=fam, category="shape", guard="tensor_repeat")
    specs += block(
        "new_zeros new_ones : *size | dtype", family=fam, category="creation", guard="shape"
    )
    specs += block(
        "new_full : size fill_value | dtype", family=fam, category="creation", guard="shape"
    )
    specs += block("new_tensor : data | dtype", family=fam, category="creation")
    specs += block("to : dtype | copy", family=fam, category="conversion", checks=("torch_dtype",))
    specs += block("numpy :", family=fam, category="conversion", result="ndarray")
    specs += block("size : dim", family=fam, category="shape", result="@size")
    specs += block(
        "dim ndimension nelement element_size is_contiguous :",
        family=fam,
        category="shape",
        result="scalar",
    )
    specs += block("item :", family=fam, category="conversion", result="scalar")
    specs += block("tolist :", family=fam, category="conversion", result="value")
    specs += block("T mT H mH real imag :", family=fam, category="shape", kind="attr")
    specs += block("shape :", family=fam, category="shape", kind="attr", result="value")
    specs += block("ndim :", family=fam, category="shape", kind="attr", result="scalar")
    return [replace(s, result="@same") if s.result == "tensor" else s for s in specs]


def torch_specs() -> list[OpSpec]:
    """Every torch entry except ``torch.nn.functional``."""
    functions = _functions()
    return with_dtype_checks(functions + _tensor_methods(functions))
