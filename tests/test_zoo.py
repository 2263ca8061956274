"""edgert.zoo: official LSNet / FemtoDet architectures, re-parameterisation and `edgert convert`.

The expected state_dict fingerprints were taken from the official model definitions themselves
(jameslahm/lsnet model/lsnet.py at cbe737c with timm 0.5.4; yh-pengtu/FemtoDet femtodet_3stage.py
at 2073227 with its FemtoNet / SharedNeck / SharedDetHead code), built on CPU: the number of
entries, a few entries spelled out, and a sha256 over the sorted "key:shape:dtype" lines.
"""
from __future__ import annotations

import argparse
import hashlib
import os

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

import edgert  # noqa: E402
from edgert.errors import EdgeRTError, ModelLoadError  # noqa: E402
from edgert.zoo import femtodet as fd  # noqa: E402
from edgert.zoo import lsnet as ls  # noqa: E402
from edgert.zoo import reparameterize  # noqa: E402
from edgert.zoo.convert import convert, export_onnx, read_checkpoint  # noqa: E402
from edgert.zoo.ska import ska_reference  # noqa: E402

OFFICIAL = {  # name: (entries, fingerprint)
    "lsnet_t": (696, "8c70491e330dbb48"), "lsnet_t_distill": (703, "67fc2613906249e9"),
    "lsnet_s": (724, "22b809950686e901"), "lsnet_s_distill": (731, "3cd66ee44adc8a3c"),
    "lsnet_b": (964, "b60a3bbd3a2f1949"), "lsnet_b_distill": (971, "00be677f321cc8f9"),
    "femtodet": (348, "c3f32bc560a6b814"),
}
OFFICIAL_ENTRIES = {
    "lsnet_t": {"patch_embed.0.c.weight": [16, 3, 3, 3], "blocks2.0.c.weight": [64, 1, 3, 3],
                "blocks2.3.mixer.lkp.cv2.c.weight": [64, 1, 7, 7], "blocks2.3.mixer.lkp.cv4.weight": [144, 64, 1, 1],
                "blocks2.3.mixer.lkp.norm.weight": [144], "blocks2.2.se.fc1.weight": [32, 128, 1, 1],
                "blocks4.3.mixer.m.attention_biases": [4, 16], "blocks4.3.mixer.m.attention_bias_idxs": [16, 16],
                "head.bn.running_var": [384], "head.l.weight": [1000, 384]},
    "lsnet_b_distill": {"blocks3.5.mixer.lkp.cv4.weight": [432, 192, 1, 1],
                        "blocks4.9.mixer.m.qkv.c.weight": [640, 512, 1, 1], "head_dist.l.weight": [1000, 512]},
    "femtodet": {"backbone.layer1.0.conv.0.theta": [1], "backbone.layer1.0.conv.0.bn2.running_mean": [8],
                 "backbone.layer6.0.conv.2.conv.weight": [40, 48, 1, 1],
                 "neck.stacked_convs.depthwise_conv.conv.weight": [64, 1, 3, 3],
                 "neck.lateral_convs.2.conv.weight": [64, 80, 1, 1],
                 "bbox_head.multi_level_conv_cls.0.weight": [20, 64, 1, 1],
                 "bbox_head.multi_level_conv_obj.0.bias": [1]},
}


def fingerprint(state: dict) -> str:
    lines = sorted(f"{k}:{'x'.join(map(str, v.shape))}:{str(v.dtype).replace('torch.', '')}" for k, v in state.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def official_model(name: str):
    if name == "femtodet":
        return fd.femtodet(20)
    return ls.lsnet(name.replace("_distill", ""), distillation=name.endswith("_distill"))


@torch.no_grad()
def randomize(model, seed=0):
    """Every float parameter and BN statistic random (BN variances positive), so folding is exercised."""
    gen = torch.Generator().manual_seed(seed)
    for key, value in model.state_dict().items():
        if not value.dtype.is_floating_point:
            continue
        if key.endswith("running_var"):
            value.copy_(torch.rand(value.shape, generator=gen) * 1.5 + 0.5)
        else:
            value.copy_(torch.randn(value.shape, generator=gen) * 0.2)
    return model.eval()


def relative_error(actual, expected) -> float:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-12))


# ------------------------------------------------------------------ architectures


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_state_dict_keys_and_shapes_equal_the_official_model(name):
    state = official_model(name).state_dict()
    entries, digest = OFFICIAL[name]
    for key, shape in OFFICIAL_ENTRIES.get(name, {}).items():
        assert key in state, f"{name}: official key {key} missing"
        assert list(state[key].shape) == shape, f"{name}: {key} {list(state[key].shape)} != official {shape}"
    assert len(state) == entries
    assert fingerprint(state) == digest


def test_published_parameter_counts():
    # Parameters (not buffers) as the LSNet and FemtoDet papers report them: 11.4M / 16.1M / 23.2M, 68.77K.
    counts = {n: sum(p.numel() for p in official_model(n).parameters()) for n in ("lsnet_t", "lsnet_s", "lsnet_b")}
    assert counts == {"lsnet_t": 11_409_832, "lsnet_s": 16_146_304, "lsnet_b": 23_313_608}
    assert sum(p.numel() for p in fd.femtodet(20).parameters()) == 68_774


def test_ska_matches_the_official_index_math():
    rng = np.random.default_rng(3)
    n, groups, h, w, k = 2, 3, 5, 6, 3
    c = 4 * groups
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weights = rng.standard_normal((n, groups, k * k, h, w)).astype(np.float32)
    # The official Triton kernel, one output element at a time: weight group c % wc, taps kh*ks + kw.
    expected = np.zeros_like(x)
    for ni in range(n):
        for ci in range(c):
            for hi in range(h):
                for wi in range(w):
                    for kh in range(k):
                        for kw in range(k):
                            hin, win = hi - 1 + kh, wi - 1 + kw
                            if 0 <= hin < h and 0 <= win < w:
                                tap = weights[ni, ci % groups, kh * k + kw, hi, wi]
                                expected[ni, ci, hi, wi] += x[ni, ci, hin, win] * tap
    np.testing.assert_allclose(ska_reference(x, weights.reshape(n, -1, h, w)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ska_reference(x, weights), expected, rtol=1e-5, atol=1e-5)
    actual = ls.ska(torch.from_numpy(x), torch.from_numpy(weights)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n, c, groups, k, h, w", [
    (1, 64, 8, 3, 9, 7),      # LSNet's shape rule (G = C/8): the SIMD path
    (2, 96, 12, 5, 6, 11),    # G not a multiple of 8 on x86 (scalar fallback), of 4 on NEON it is
    (1, 24, 24, 7, 3, 4),     # window larger than the image
    (1, 6, 3, 1, 5, 5),
])
def test_ska_native_kernel_matches_the_spec(n, c, groups, k, h, w):
    from onnx import TensorProto, helper

    node = helper.make_node("SKA", ["x", "w"], ["y"], name="ska", domain="ai.edgert", kernel_size=k)
    graph = helper.make_graph([node], "ska", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, w]),
                                              helper.make_tensor_value_info("w", TensorProto.FLOAT,
                                                                            [n, groups * k * k, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.edgert", 1)])
    rng = np.random.default_rng(k)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((n, groups * k * k, h, w)).astype(np.float32)
    ref = ska_reference(x, wt, k)
    for threads in (1, 2):
        sess = edgert.load(model, threads=threads, backend="edgert")
        steps = sess.plan_for(sess.static_input_shapes()).steps
        assert [s.label for s in steps if s.node == "ska"] == [f"SKA[{k}x{k}]"]  # the native kernel, not numpy
        np.testing.assert_allclose(sess.run({"x": x, "w": wt})["y"], ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_ska_reference_rejects_inconsistent_shapes():
    x = np.zeros((1, 12, 4, 4), np.float32)
    with pytest.raises(ValueError, match="multiple"):
        ska_reference(x, np.zeros((1, 5 * 9, 4, 4), np.float32))
    with pytest.raises(ValueError, match="W must be"):
        ska_reference(x, np.zeros((1, 27, 4, 5), np.float32))


@pytest.mark.parametrize("name", ["lsnet_t", "lsnet_t_distill", "femtodet"])
def test_reparameterized_model_equals_the_original(name):
    if name == "femtodet":
        model, x = randomize(fd.femtodet(7)), torch.randn(2, 3, 96, 128)
    else:
        model = randomize(ls.lsnet("lsnet_t", num_classes=10, img_size=64, distillation=name.endswith("distill")))
        x = torch.randn(2, 3, 64, 64)
    fused = reparameterize(model)
    kinds = {type(m).__name__ for m in fused.modules()}
    assert not kinds & {"ConvBN", "RepVGGDW", "IBEConv", "ConvModule", "BNLinear"}, kinds
    with torch.no_grad():
        before, after = model(x), fused(x)
    for b, a in zip(before if isinstance(before, tuple) else [before], after if isinstance(after, tuple) else [after]):
        assert relative_error(a, b) <= 1e-5


@pytest.mark.parametrize("stride", [1, 2])
def test_ibe_conv_folds_into_one_depthwise_conv(stride):
    ibe = randomize(fd.IBEConv(6, 6, 3, stride=stride, padding=1, groups=6), seed=stride)
    x = torch.randn(1, 6, 9, 11)
    fused = ibe.fuse()
    with torch.no_grad():
        assert relative_error(fused(x), ibe(x)) <= 1e-5


def test_attention_bias_resize_is_exact_at_the_same_grid_and_bicubic_elsewhere():
    attn = ls.Attention(32, 16, 2, 1, resolution=4)
    with torch.no_grad():
        attn.attention_biases.copy_(torch.arange(32, dtype=torch.float32).reshape(2, 16))
    idx = attn.attention_bias_idxs.clone()
    attn.resize_grid(4, 4)
    assert torch.equal(attn.attention_bias_idxs, idx)
    attn.resize_grid(2, 3)
    assert attn.attention_biases.shape == (2, 6) and attn.attention_bias_idxs.shape == (6, 6)
    # offset (|dy|, |dx|) = (1, 2) between points (0, 0) and (1, 2) of the 2x3 grid
    assert int(attn.attention_bias_idxs[0, 5]) == 1 * 3 + 2


# ------------------------------------------------------------------ export and convert


def save(tmp_path, obj, name="ckpt.pth") -> str:
    path = str(tmp_path / name)
    torch.save(obj, path)
    return path


@pytest.fixture(scope="module")
def lsnet_small():
    """LSNet-T (official architecture) with random weights, built for 64x64 inputs (1x1 stage-4 grid)."""
    torch.manual_seed(0)
    return randomize(ls.lsnet("lsnet_t", num_classes=10, img_size=64), seed=1)


@pytest.fixture(scope="module")
def lsnet_export(lsnet_small, tmp_path_factory):
    """The small LSNet converted through a {'model': ...} checkpoint, portable and with the SKA node."""
    directory = tmp_path_factory.mktemp("lsnet")
    ckpt = str(directory / "lsnet_t.pth")
    torch.save({"model": lsnet_small.state_dict(), "epoch": 3}, ckpt)
    paths = {}
    for portable in (True, False):
        paths[portable] = str(directory / f"lsnet_t_{'portable' if portable else 'ska'}.onnx")
        result = convert("lsnet_t", ckpt, paths[portable], input_size=(64, 64), portable=portable)
        assert result.num_classes == 10 and result.outputs == {"logits": ["N", 10]}
    return paths


def ort_run(path, x):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"images": x})))


def torch_outputs(model, x, names):
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return dict(zip(names, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]))


def test_lsnet_portable_export_matches_torch_on_onnxruntime_and_edgert(lsnet_small, lsnet_export, assert_matches):
    model = onnx.load(lsnet_export[True])
    assert {n.domain for n in model.graph.node} == {""}
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [18]
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    expected = torch_outputs(lsnet_small, x, ["logits"])
    assert_matches(ort_run(lsnet_export[True], x), expected, what="onnxruntime")
    sess = edgert.load(lsnet_export[True], threads=1)
    assert_matches(sess.run({"images": x}), expected, what="edgert")
    # edgert recognises the portable SKA chains and runs each as its native kernel
    labels = [s.label for s in sess.plan_for([x.shape]).steps]
    assert labels.count("SKA[3x3]") == 5 and not any(label.startswith("Slice") for label in labels)


def test_portable_ska_lookalike_is_not_fused(lsnet_export, tmp_path, assert_matches):
    """Two windows of one chain swapped: no longer SKA (taps meet the wrong windows), so edgert must
    run it as written and still agree with onnxruntime."""
    model = onnx.load(lsnet_export[True])
    windows = [n for n in model.graph.node if n.op_type == "Slice" and n.name.startswith("ska_window")][:9]
    windows[1].input[1:3], windows[3].input[1:3] = list(windows[3].input[1:3]), list(windows[1].input[1:3])
    path = str(tmp_path / "lookalike.onnx")
    onnx.save(model, path)
    x = np.random.default_rng(5).standard_normal((1, 3, 64, 64)).astype(np.float32)
    sess = edgert.load(path, threads=1)
    labels = [s.label for s in sess.plan_for([x.shape]).steps]
    assert labels.count("SKA[3x3]") == 4 and labels.count("Slice[copy]") == 9
    assert_matches(sess.run({"images": x}), ort_run(path, x), what="edgert vs onnxruntime")


def test_lsnet_ska_node_export_matches_torch(lsnet_small, lsnet_export, assert_matches):
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    model = onnx.load(lsnet_export[False])
    ska_nodes = [n for n in model.graph.node if n.op_type == "SKA"]
    assert len(ska_nodes) == 5 and all(n.domain == "ai.edgert" for n in ska_nodes)  # LSNet-T has 5 LSConv blocks
    assert {(o.domain, o.version) for o in model.opset_import} == {("", 18), ("ai.edgert", 1)}
    assert all(len(n.input) == 2 and [a.name for a in n.attribute] == ["kernel_size"] for n in ska_nodes)

    class SKA(OpRun):
        op_domain = "ai.edgert"

        def _run(self, x, w, kernel_size=3):
            return (ska_reference(x, w, kernel_size),)

    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)
    out = ReferenceEvaluator(model, new_ops=[SKA]).run(None, {"images": x})
    assert_matches({"logits": out[0]}, torch_outputs(lsnet_small, x, ["logits"]), what="onnx reference + ska_reference")


def test_lsnet_ska_node_on_edgert(lsnet_small, lsnet_export, assert_matches):
    sess = edgert.load(lsnet_export[False], threads=1)
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    assert_matches(sess.run({"images": x}), torch_outputs(lsnet_small, x, ["logits"]), what="edgert")


def test_lsnet_distillation_checkpoint_at_another_input_size(tmp_path, assert_matches):
    # Built for 256x256 inputs (4x4 stage-4 grid, as 224x224 gives), exported for non-square 64x96.
    model = randomize(ls.lsnet("lsnet_t", num_classes=5, distillation=True, img_size=256), seed=4)
    ckpt = save(tmp_path, {"module." + k: v for k, v in model.state_dict().items()})
    out = str(tmp_path / "distill.onnx")
    result = convert("lsnet_t", ckpt, out, input_size=(64, 96), portable=True)
    assert any("averaged" in n for n in result.notes) and any("resized" in n for n in result.notes)
    reference = randomize(ls.lsnet("lsnet_t", num_classes=5, distillation=True, img_size=256), seed=4)
    reference.set_input_size(64, 96)
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 96)).astype(np.float32)
    expected = torch_outputs(reference, x, ["logits"])
    with torch.no_grad():  # the averaged heads, spelled out
        features = reference.forward_features(torch.from_numpy(x))
        both = ((reference.head(features) + reference.head_dist(features)) / 2).numpy()
    assert relative_error(expected["logits"], both) <= 1e-6
    assert_matches(ort_run(out, x), expected, what="onnxruntime")


def test_femtodet_mmdet_checkpoint_round_trip(tmp_path, assert_matches):
    model = randomize(fd.femtodet(3), seed=5)
    state = dict(model.state_dict())
    # The EMA hook's buffers, which mmdet checkpoints carry and inference ignores.
    state.update({f"ema_{k.replace('.', '_')}": torch.zeros_like(v) for k, v in list(state.items())[:5]})
    meta = {"CLASSES": ("cat", "dog", "bird"), "epoch": 300, "config": "model = dict(type='FemtoDet')"}
    ckpt = save(tmp_path, {"meta": meta, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}})
    out = str(tmp_path / "femtodet.onnx")
    result = convert("femtodet", ckpt, out, input_size=(96, 128))
    assert result.outputs == {"cls_score": ["N", 3, 6, 8], "bbox_pred": ["N", 4, 6, 8], "objectness": ["N", 1, 6, 8]}
    proto = onnx.load(out)
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["edgert.labels"] == '["cat", "dog", "bird"]' and '"stride": 16' in props["edgert.preprocess"]
    x = np.random.default_rng(4).standard_normal((2, 3, 96, 128)).astype(np.float32)
    expected = torch_outputs(model, x, list(result.outputs))
    assert_matches(ort_run(out, x), expected, what="onnxruntime")
    assert_matches(edgert.load(out, threads=1).run({"images": x}), expected, what="edgert")


def test_export_records_preprocessing_and_checks_the_graph(lsnet_small):
    proto = export_onnx(lsnet_small, (64, 64), portable=True)
    onnx.checker.check_model(proto)
    props = {p.key: p.value for p in proto.metadata_props}
    assert '"mean": [0.485, 0.456, 0.406]' in props["edgert.preprocess"]
    assert [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim][:1] == ["N"]
    # Every BatchNorm is folded except the one after each SKA (per-channel, while SKA's kernels are shared).
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("BatchNormalization") == 5 and ops.count("InstanceNormalization") == 5


# ------------------------------------------------------------------ checkpoint containers and errors


@pytest.fixture(scope="module")
def femto_state():
    return randomize(fd.femtodet(20), seed=6).state_dict()


def test_checkpoint_containers(tmp_path, femto_state):
    for i, obj in enumerate([femto_state, {"model": femto_state}, {"state_dict": femto_state, "meta": {}},
                             {"module." + k: v for k, v in femto_state.items()},
                             # training checkpoints carry their argparse options and numpy scalars
                             {"model": femto_state, "args": argparse.Namespace(lr=0.1, model="femtodet"),
                              "best": np.float64(0.5)}]):
        state, _ = read_checkpoint(save(tmp_path, obj, f"c{i}.pth"))
        assert sorted(state) == sorted(femto_state), i
        assert all(torch.equal(state[k], femto_state[k]) for k in state)


def test_missing_unexpected_and_misshaped_keys_are_listed(tmp_path, femto_state):
    state = dict(femto_state)
    del state["backbone.conv1.conv.weight"]
    state["neck.extra.weight"] = torch.zeros(3)
    state["bbox_head.multi_level_conv_reg.0.weight"] = torch.zeros(4, 32, 1, 1)
    ckpt = save(tmp_path, state)
    with pytest.raises(ModelLoadError) as e:
        convert("femtodet", ckpt, str(tmp_path / "x.onnx"))
    message = str(e.value)
    for part in ("1 missing key: backbone.conv1.conv.weight", "1 unexpected key: neck.extra.weight",
                 "bbox_head.multi_level_conv_reg.0.weight [4, 32, 1, 1] (expected [4, 64, 1, 1])", ckpt):
        assert part in message
    assert not os.path.exists(tmp_path / "x.onnx")


def test_long_key_lists_are_cut(tmp_path):
    ckpt = save(tmp_path, {f"stray.{i}": torch.zeros(1) for i in range(30)})
    with pytest.raises(ModelLoadError, match=r"30 unexpected keys: stray\.0, .* \.\.\. and 22 more"):
        convert("lsnet_t", ckpt, str(tmp_path / "x.onnx"))


def test_num_classes_must_agree_with_the_checkpoint(tmp_path, femto_state):
    with pytest.raises(ModelLoadError, match="--num-classes 80, but the checkpoint's classifier has 20"):
        convert("femtodet", save(tmp_path, femto_state), str(tmp_path / "x.onnx"), num_classes=80)


def test_unreadable_and_unsafe_checkpoints(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelLoadError, match="not a readable PyTorch checkpoint"):
        read_checkpoint(junk)
    with pytest.raises(ModelLoadError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "absent.pth")
    # An arbitrary object (here a function reference) is refused rather than unpickled.
    with pytest.raises(ModelLoadError, match="does not unpickle"):
        read_checkpoint(save(tmp_path, {"model": {}, "hook": os.getcwd}, "unsafe.pth"))
    with pytest.raises(ModelLoadError, match="no weights found"):
        read_checkpoint(save(tmp_path, {"epoch": 3}, "empty.pth"))


def test_output_path_rules(tmp_path, femto_state):
    ckpt = save(tmp_path, femto_state)
    with pytest.raises(EdgeRTError, match="overwrite the checkpoint"):
        convert("femtodet", ckpt, ckpt, force=True)
    existing = tmp_path / "out.onnx"
    existing.write_bytes(b"keep")
    with pytest.raises(EdgeRTError, match="pass --force"):
        convert("femtodet", ckpt, str(existing))
    assert existing.read_bytes() == b"keep"
    with pytest.raises(EdgeRTError, match="no such directory"):
        convert("femtodet", ckpt, str(tmp_path / "missing" / "out.onnx"))
    with pytest.raises(EdgeRTError, match="unknown model"):
        convert("yolo", ckpt, str(tmp_path / "y.onnx"))
    convert("femtodet", ckpt, str(existing), input_size=(64, 64), force=True)
    assert onnx.load(str(existing)).graph.output[0].name == "cls_score"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".edgert-")]


def test_cli_convert(tmp_path, femto_state, capsys):
    from edgert.cli import main

    ckpt = save(tmp_path, {"state_dict": femto_state})
    out = str(tmp_path / "det.onnx")
    assert main(["convert", "femtodet", ckpt, "-o", out, "--input-size", "64x96", "--num-classes", "20"]) == 0
    printed = capsys.readouterr().out
    assert "input images [N, 3, 64, 96]" in printed and "output bbox_pred: ['N', 4, 4, 6]" in printed
    assert main(["convert", "femtodet", ckpt, "-o", out]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert main(["convert", "femtodet", ckpt, "-o", out, "--input-size", "64xA", "--force"]) == 2
    assert "--input-size '64xA'" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.onnx's TorchScript exporter
@pytest.mark.parametrize("order, dim, size", [(2, 16, (9, 11)), (3, 32, (8, 8)), (4, 64, (7, 13)), (5, 64, (14, 10))])
def test_gnconv_export_runs_natively_and_matches_torch(order, dim, size, tmp_path, assert_matches):
    from edgert.zoo.hornet import GnConv

    torch.manual_seed(order)
    model = GnConv(dim, order=order, s=1.0 / 3).eval()
    keys = {k.split(".")[0] for k in model.state_dict()}
    assert keys == {"proj_in", "dwconv", "proj_out"} | ({"pws"} if order > 1 else set())  # the official names
    x = torch.randn(2, dim, *size)
    path = str(tmp_path / "gnconv.onnx")
    torch.onnx.export(model, (x,), path, input_names=["images"], output_names=["y"], opset_version=18, dynamo=False)
    with torch.no_grad():
        expected = {"y": model(x).numpy()}
    sess = edgert.load(path, threads=2)
    steps = sess.plan_for([tuple(x.shape)]).steps
    assert not [s.label for s in steps if not s.native], "gnConv left a step on numpy"
    # one fused operator (passes/gnconv.py), `* s` folded into its depthwise weights
    assert [s.label for s in steps if s.label.startswith("GnConv")] == [f"GnConv[order {order}, 7x7]"]
    assert not [s.label for s in steps if s.label.startswith(("Split", "Mul", "Conv"))]
    got = sess.run({"images": x.numpy()})
    assert_matches(got, expected, what="edgert")
    assert_matches(ort_run(path, x.numpy()), expected, what="onnxruntime")
    # the fused operator's results do not depend on the thread count
    np.testing.assert_array_equal(edgert.load(path, threads=1).run({"images": x.numpy()})["y"], got["y"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_gnconv_variants_the_fusion_must_not_take_still_run_correctly(tmp_path, assert_matches):
    """A gnConv whose gate product is also read elsewhere, or whose chain carries a ReLU, is not
    the pattern: those graphs keep their separate steps and still match PyTorch."""
    from edgert.zoo.hornet import GnConv

    class Tapped(GnConv):
        def forward(self, x):
            pwa, abc = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
            gates = torch.split(self.dwconv(abc) * self.scale, self.dims, dim=1)
            y = pwa * gates[0]
            tap = y.mean()
            for pw, gate in zip(self.pws, gates[1:]):
                y = torch.relu(pw(y)) * gate
            return self.proj_out(y) + tap

    torch.manual_seed(0)
    model = Tapped(32, order=3, s=1.0 / 3).eval()
    x = torch.randn(1, 32, 9, 8)
    path = str(tmp_path / "tapped.onnx")
    torch.onnx.export(model, (x,), path, input_names=["images"], output_names=["y"], opset_version=18, dynamo=False)
    sess = edgert.load(path, threads=2)
    labels = [s.label for s in sess.plan_for([tuple(x.shape)]).steps]
    assert not [lb for lb in labels if lb.startswith("GnConv")], labels
    with torch.no_grad():
        assert_matches(sess.run({"images": x.numpy()}), {"y": model(x).numpy()}, what="edgert")

