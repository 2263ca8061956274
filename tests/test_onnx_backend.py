"""The ONNX backend test suite (onnx.backend.test.BackendTest) for the operators edgert claims.

onnx 1.23 ships no generated node data: the runner builds every node case in memory from the
generators under onnx/backend/test/case/node when it is constructed, which happens once, at import of
this module. The pytorch-converted, pytorch-operator and simple cases ship as data and are read from
onnx/backend/test/data.

INCLUDE names, per claimed op, the cases that exercise it (re.fullmatch on the case name). Cases of
unclaimed ops are never collected. EXCLUDE carves out included cases that cannot pass for a stated
reason; they are not collected either, and the reason sits next to the pattern.
"""

from __future__ import annotations

import os
import re
import warnings

import onnx
import onnx.backend.test

import model_zoo as mz
from onnx_backend_adapter import EdgeRTBackend

INCLUDE = [
    # Conv: 1-D and 2-D; strides, explicit/asymmetric/auto pads, groups, depthwise, dilation, no bias.
    r"test_basic_conv_with(out)?_padding", r"test_conv_with_.+", r"test_Conv[123]d.*", r"test_operator_conv",
    # ConvTranspose: pads, output_padding, output_shape, auto_pad, groups, dilations, 1-D.
    r"test_convtranspose.*", r"test_ConvTranspose2d.*", r"test_operator_convtranspose",
    # Gemm: transA/transB, alpha/beta, bias of every broadcastable shape, no bias; nn.Linear, addmm, mm.
    r"test_gemm_.+", r"test_Linear", r"test_operator_(addmm|mm)",
    # MatMul: 1-D..4-D, batched and broadcast; Linear without bias is Transpose + MatMul.
    r"test_matmul_.+", r"test_Linear_no_bias",
    # BatchNormalization, including BatchNorm1d/2d/3d from torch.
    r"test_batchnorm_.+", r"test_BatchNorm[123]d.*",
    # Relu.
    r"test_relu", r"test_ReLU", r"test_single_relu_model",
    # Clip: both bounds, one bound, none, min > max; Clip-6 attributes from torch.
    r"test_clip.*", r"test_operator_clip",
    # Sigmoid, and GLU = Split + Sigmoid + Mul.
    r"test_sigmoid(_example)?", r"test_Sigmoid", r"test_GLU(_dim)?",
    # HardSigmoid, HardSwish (and HardSwish's HardSigmoid * x expansion).
    r"test_hardsigmoid.*", r"test_hardswish(_expanded)?",
    # PRelu: per-channel, scalar and broadcast slopes, 1-D..3-D from torch.
    r"test_prelu_.+", r"test_PReLU_.+",
    # LeakyRelu.
    r"test_leakyrelu.*", r"test_LeakyReLU.*",
    # Tanh.
    r"test_tanh(_example)?", r"test_Tanh",
    # Gelu: exact and tanh approximation.
    r"test_gelu_.+",
    # Add / Sub / Mul / Div with broadcasting, float32 and the integer/float64 variants.
    r"test_(add|sub|mul|div)(_.+)?", r"test_operator_add_.+", r"test_operator_addconstant",
    r"test_operator_non_float_params",
    # Sum of one, two and three inputs.
    r"test_sum_.+",
    # Concat, every axis, negative axes.
    r"test_concat_.+", r"test_operator_concat2",
    # Split: split sizes as input (13) and num_outputs (18), uneven and zero-size splits; torch chunk.
    r"test_split_(equal_parts|variable_parts|zero_size_splits|1d_uneven|2d_uneven).*", r"test_operator_chunk",
    # Slice: negative starts/ends/axes/steps, out-of-bounds, default axes and steps; torch indexing.
    r"test_slice.*", r"test_operator_index",
    # Reshape: 0 and -1, reordered dims, allowzero.
    r"test_reshape_.+",
    # Flatten, every axis; torch view of a vector.
    r"test_flatten_.+", r"test_operator_flatten", r"test_operator_view",
    # Transpose: all 3-D permutations, default, 6-D; PixelShuffle is Reshape + 6-D Transpose.
    r"test_transpose_.+", r"test_operator_permute2", r"test_PixelShuffle",
    # Squeeze / Unsqueeze: one, several, unsorted and negative axes.
    r"test_squeeze(_negative_axes)?", r"test_unsqueeze_.+",
    # MaxPool: 1-D/2-D, pads, same_upper/lower, strides, ceil, dilations; torch incl. huge dilated kernels.
    r"test_maxpool_.+", r"test_MaxPool[123]d.*", r"test_operator_maxpool",
    # AveragePool: count_include_pad, ceil (and last window starting in padding), auto_pad, dilations.
    r"test_averagepool_.+", r"test_AvgPool[123]d.*",
    # GlobalAveragePool.
    r"test_globalaveragepool.*",
    # ReduceMean / ReduceSum: keepdims, negative and default axes, empty axes, empty sets; the
    # expansion of ReduceSumSquare is Mul + ReduceSum.
    r"test_reduce_mean_.+", r"test_reduce_sum_(?!square_).+", r"test_reduce_sum_square_.+_expanded",
    r"test_operator_reduced_(mean|sum)(_keepdim)?",
    # Resize: nearest and linear, scales and sizes, coordinate and nearest modes, axes, aspect policy.
    r"test_resize_.+",
    # Pad: constant (with value, axes), reflect, edge, wrap; torch's Pad-2 attribute form.
    r"test_(constant|edge|reflect|wrap)_pad.*", r"test_(Constant|Reflection|Replication|Zero)Pad2d",
    r"test_operator_pad",
    # Softmax over every axis, large inputs; Softmax-1 from torch.
    r"test_softmax_.+", r"test_Softmax",
    # Identity; Dropout in inference, and in training mode with ratio 0 (deterministic).
    r"test_identity.*", r"test_(training_)?dropout.*",
    # InstanceNormalization, GroupNormalization, LayerNormalization.
    r"test_instancenorm_.+", r"test_operator_symbolic_override",
    r"test_group_normalization_.+", r"test_layer_normalization_.+",
    # Fold-only ops (the adapter makes all their operands constant, so edgert must fold them at load).
    r"test_shape.*", r"test_gather_(0|1|2d_indices|negative_indices)", r"test_range_.+", r"test_mod_.+",
    r"test_constant", r"test_constantofshape_.+", r"test_expand_(dim_changed|dim_unchanged|shape_model[1-4])",
    # Shape arithmetic as exporters write it: Shape/Slice/Div/Concat folding into 6-D Reshape/Transpose.
    r"test_(depthtospace|spacetodepth).*_expanded",
]

EXCLUDE = {
    # 3-D spatial ops
    r"test_Conv3d.*|test_convtranspose_3d": "3-D convolution: edgert's conv kernels are 1-D/2-D",
    r"test_(maxpool|averagepool)_3d_.+|test_(MaxPool|AvgPool)3d.*": "3-D pooling: edgert's pools are 1-D/2-D",
    # dtypes
    r"test_maxpool_2d_uint8": "uint8 MaxPool outside QDQ: edgert's pools are float32",
    # features outside the claim
    r"test_batchnorm_.+_training_mode": "training mode (batch statistics as outputs): edgert is inference-only",
    r"test_training_dropout(_default|_default_mask|_mask)?": "training-mode Dropout draws random masks; "
                                                             "edgert is inference-only",
    r"test_maxpool_with_argmax_.+": "MaxPool's Indices output is not claimed",
    r"test_resize_.*cubic.*": "Resize mode=cubic is not claimed (nearest and linear are)",
    r"test_resize_.*_antialias": "Resize antialias=1 is not claimed",
    r"test_resize_tf_crop_and_resize.*": "Resize tf_crop_and_resize (roi) is not claimed",
    r"test_identity_(opt|sequence)": "optional and sequence types are not claimed",
    r"test_resize_downsample_scales_linear_align_corners": (
        "the spec's expected output uses the fractional output length (4 * 0.6 = 2.4) in the align_corners "
        "formula; onnxruntime, edgert's parity reference, uses the integer length 2 and gives [1, 4]"),
    # expansions into ops outside CLAIMED_OPS (the plain node case of the same op is included)
    r"test_.+_expanded(_ver\d+)?": "function expansion uses ops edgert does not claim",
}
# Inclusions that must survive the generic expansion exclusion above: all-claimed expansions.
KEEP_EXPANDED = [r"test_hardswish_expanded", r"test_clip_default_inbounds_expanded",
                 r"test_reduce_sum_square_.+_expanded", r"test_(depthtospace|spacetodepth).*_expanded"]
# Claimed ops with no runnable node case, and where they are covered instead.
NOT_COVERED_HERE = {"Cast": "every Cast node case involves a non-float32 float type; Cast is covered "
                            "folded, in test_parity_ops"}


def _excluded(name: str) -> str | None:
    if any(re.fullmatch(p, name) for p in KEEP_EXPANDED):
        return None
    return next((why for p, why in EXCLUDE.items() if re.fullmatch(p, name)), None)


class EdgeRTBackendTest(onnx.backend.test.BackendTest):
    """Collects only included, non-excluded cases, on CPU only (edgert has no other device)."""

    def __init__(self, *args, **kwargs):
        self.seen: set[str] = set()
        self.included: dict[str, onnx.ModelProto] = {}  # collected case -> its model
        self.excluded: dict[str, str] = {}  # included but excluded case -> reason
        super().__init__(*args, **kwargs)

    def _add_model_test(self, model_test, kind):
        name = model_test.name
        self.seen.add(name)
        if not any(re.fullmatch(p, name) for p in INCLUDE):
            return
        reason = _excluded(name)
        if reason:
            self.excluded[name] = reason
            return
        self.included[name] = model_test.model or onnx.load(os.path.join(model_test.model_dir, "model.onnx"))
        super()._add_model_test(model_test, kind)

    def _add_test(self, category, test_name, test_func, report_item, devices=("CPU",), **kwargs):
        super()._add_test(category, test_name, test_func, report_item, devices=("CPU",), **kwargs)


with warnings.catch_warnings():  # the generators' own numpy overflow/divide warnings
    warnings.simplefilter("ignore")
    backend_test = EdgeRTBackendTest(EdgeRTBackend, __name__)
globals().update(backend_test.test_cases)


# --- the lists themselves -------------------------------------------------------------------------


def test_every_pattern_matches_a_case():
    for p in INCLUDE + KEEP_EXPANDED:
        assert any(re.fullmatch(p, n) for n in backend_test.seen), f"INCLUDE/KEEP pattern {p!r} matches nothing"
    for p in EXCLUDE:
        assert any(re.fullmatch(p, n) for n in backend_test.excluded), f"EXCLUDE pattern {p!r} excludes nothing"


def test_collected_cases_use_only_claimed_ops():
    bad = {name: sorted({n.op_type for n in m.graph.node} - mz.CLAIMED_OPS)
           for name, m in backend_test.included.items()}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"included cases using unclaimed ops: {bad}"


def test_every_claimed_op_has_cases():
    used = set().union(*({n.op_type for n in m.graph.node} for m in backend_test.included.values()))
    missing = mz.CLAIMED_OPS - used - set(NOT_COVERED_HERE)
    assert not missing, f"claimed ops without an ONNX backend case: {sorted(missing)}"
