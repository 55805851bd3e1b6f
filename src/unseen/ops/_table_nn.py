"""``torch.nn.functional``: activations, layers, pooling, losses, normalization.

Only inference forms: ``dropout`` always runs with ``training=False`` (an identity),
``batch_norm`` with ``training=False`` (no running statistics are updated). ``inplace=``,
``embedding``'s ``max_norm`` (it renormalizes the weight in place) and ``pad`` modes other
than ``"constant"`` are not allowed.
"""

from __future__ import annotations

from unseen.ops._spec import OpSpec, block

__all__ = ["nn_specs"]

F = "torch.nn.functional"

_ACTIVATIONS = """
relu relu6 selu silu mish hardsigmoid hardswish logsigmoid tanhshrink softsign sigmoid tanh : input
gelu : input | approximate
leaky_relu : input negative_slope
elu celu : input alpha
softplus : input beta threshold
hardtanh : input min_val max_val
threshold : input threshold value
glu : input dim
softmax log_softmax softmin : input dim | dtype
normalize : input p dim eps
cosine_similarity : x1 x2 dim eps
pairwise_distance : x1 x2 p eps keepdim
"""

_LAYERS = """
linear : input weight bias
bilinear : input1 input2 weight bias
embedding : input weight padding_idx
layer_norm : input normalized_shape weight bias eps
group_norm : input num_groups weight bias eps
"""

_POOLING = """
max_pool1d max_pool2d : input kernel_size stride padding dilation ceil_mode return_indices
avg_pool1d : input kernel_size stride padding ceil_mode count_include_pad
avg_pool2d : input kernel_size stride padding ceil_mode count_include_pad divisor_override
"""

_ADAPTIVE = """
adaptive_avg_pool1d adaptive_avg_pool2d : input output_size
adaptive_max_pool1d adaptive_max_pool2d : input output_size return_indices
"""

_LOSSES = """
mse_loss l1_loss : input target | reduction
smooth_l1_loss : input target | reduction beta
huber_loss : input target | reduction delta
cross_entropy : input target weight | ignore_index reduction label_smoothing
nll_loss : input target weight | ignore_index reduction
binary_cross_entropy : input target weight | reduction
binary_cross_entropy_with_logits : input target weight | reduction pos_weight
kl_div : input target | reduction log_target
"""


def nn_specs() -> list[OpSpec]:
    """Every ``torch.nn.functional`` entry."""
    specs = block(_ACTIVATIONS, namespace=F, category="nn", result="tensor", checks=("dtype",))
    specs += block(_LAYERS, namespace=F, category="nn", result="tensor")
    specs += block(
        "conv1d conv2d : input weight bias stride padding dilation groups",
        namespace=F,
        category="nn",
        result="tensor",
        guard="conv",
    )
    specs += block(_POOLING, namespace=F, category="nn", result="@pool")
    specs += block(_ADAPTIVE, namespace=F, category="nn", result="@pool", guard="adaptive")
    specs += block(_LOSSES, namespace=F, category="nn", result="tensor")
    specs += block(
        "dropout : input p",
        namespace=F,
        category="nn",
        result="tensor",
        forced=(("training", False),),
    )
    specs += block(
        "batch_norm : input running_mean running_var weight bias | momentum eps",
        namespace=F,
        category="nn",
        result="tensor",
        forced=(("training", False),),
    )
    specs += block(
        "one_hot : tensor num_classes", namespace=F, category="nn", result="tensor", guard="one_hot"
    )
    specs += block(
        "pad : input pad mode value",
        namespace=F,
        category="nn",
        result="tensor",
        checks=("constant_pad",),
        guard="torch_pad",
    )
    return specs
