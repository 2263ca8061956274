"""int8 (qs8) steps of edgert._ops._kernels against an independent numpy reading of the spec in
cython_ops/include/edgert/qs8-requant.h: exact integer accumulation (int64 here), then
f = float32(acc) * float32(scale), clamp to [qmin - zp, qmax - zp], round half to even, + zp.
Every comparison is bit-exact, and thread counts 1 and 3 must give identical bytes."""

import numpy as np
import pytest

from edgert._ops import _kernels as K

F32 = np.float32


@pytest.fixture(scope="module")
def pools():
    return {1: K.ThreadPool(1), 3: K.ThreadPool(3)}


# ---------------------------------------------------------------------------- numpy spec


def np_output(f, zp, qmin=-128, qmax=127):
    """Scaled float32 values -> int8: clamp in float, round half to even, add the zero point."""
    f = np.asarray(f, dtype=F32)
    f = np.minimum(np.maximum(f, F32(qmin - zp)), F32(qmax - zp))
    return (np.rint(f).astype(np.int32) + zp).astype(np.int8)


def np_requant(acc, scales, zp, qmin=-128, qmax=127):
    acc = np.asarray(acc, dtype=np.int64)
    assert np.all(np.abs(acc) < 2**31)
    return np_output(acc.astype(F32) * np.asarray(scales, dtype=F32), zp, qmin, qmax)


def np_conv_acc(x, w, bias, zp_in, stride, pads, dilation, groups):
    """Direct int64 convolution of NHWC int8 x with ONNX weights [C_out, C_in/g, KH, KW]: padded
    taps hold the real value 0, i.e. (q - zp) summed over taps plus the bias."""
    n, H, W, C = x.shape
    C_out, cin_g, KH, KW = w.shape
    (SH, SW), (DH, DW) = stride, dilation
    pt, pl, pb, pr = pads
    xc = np.pad(x.astype(np.int64) - zp_in, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    OH = (H + pt + pb - (DH * (KH - 1) + 1)) // SH + 1
    OW = (W + pl + pr - (DW * (KW - 1) + 1)) // SW + 1
    acc = np.zeros((n, OH, OW, C_out), dtype=np.int64)
    cout_g = C_out // groups
    for g in range(groups):
        xs = xc[..., g * cin_g:(g + 1) * cin_g]
        wg = w[g * cout_g:(g + 1) * cout_g].astype(np.int64)
        for ky in range(KH):
            for kx in range(KW):
                patch = xs[:, ky * DH:ky * DH + SH * (OH - 1) + 1:SH,
                           kx * DW:kx * DW + SW * (OW - 1) + 1:SW, :]
                acc[..., g * cout_g:(g + 1) * cout_g] += patch @ wg[:, :, ky, kx].T
    if bias is not None:
        acc += bias.astype(np.int64)
    return acc


def geometry(x_shape, C_out, groups, K, S, D, pads):
    n, H, W, C = x_shape
    (KH, KW), (SH, SW), (DH, DW) = K, S, D
    pt, pl, pb, pr = pads
    OH = (H + pt + pb - (DH * (KH - 1) + 1)) // SH + 1
    OW = (W + pl + pr - (DW * (KW - 1) + 1)) // SW + 1
    return dict(batch=n, H=H, W=W, C_in=C, OH=OH, OW=OW, C_out=C_out, groups=groups, KH=KH,
                KW=KW, SH=SH, SW=SW, DH=DH, DW=DW, pad_top=pt, pad_left=pl)


def rand_i8(rng, shape, lo=-128, hi=127):
    return rng.integers(lo, hi + 1, size=shape).astype(np.int8)


def run_both(pools, make):
    """Runs the step made by make(pool) -> (step, out) with 1 and 3 threads: same bytes."""
    outs = []
    for threads in (1, 3):
        step, out = make(pools[threads])
        step()
        outs.append(out.copy())
    np.testing.assert_array_equal(outs[0], outs[1])
    return outs[0]


# ---------------------------------------------------------------------------- spec details


def test_np_output_rounds_half_to_even_and_saturates():
    f = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1e9, -1e9, 126.5], dtype=F32)
    np.testing.assert_array_equal(np_output(f, 0), [0, 2, 2, 0, -2, 127, -128, 126])
    np.testing.assert_array_equal(np_output(f, 10, qmin=10, qmax=20), [10, 12, 12, 10, 10, 20, 10, 20])


# ---------------------------------------------------------------------------- GEMM


@pytest.mark.parametrize("seed", range(6))
def test_gemm_matches_numpy(pools, seed):
    rng = np.random.default_rng(seed)
    M = int(rng.integers(1, 40))
    N = int(rng.choice([1, 3, 4, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 65]))
    Kd = int(rng.choice([1, 2, 3, 5, 8, 15, 16, 17, 31, 64, 100, 257]))
    lda, ldc = Kd + int(rng.integers(0, 5)), N + int(rng.integers(0, 5))
    zp_in = int(rng.choice([-128, -5, 0, 37, 127]))
    zp_out = int(rng.choice([-128, -3, 0, 60, 127]))
    qmin, qmax = [(-128, 127), (zp_out, 127), (-100, 50)][seed % 3]
    qmin, qmax = min(qmin, qmax), max(qmin, qmax)
    # Weights as a transposed view: the packer honours any strides.
    W = rand_i8(rng, (N, Kd)).T
    bias = rng.integers(-5000, 5000, size=N).astype(np.int32) if seed % 2 else None
    # Scales from tiny (everything near zp) to large (saturation both ways).
    scales = (10.0 ** rng.uniform(-5, -1, size=N)).astype(F32)
    A = rand_i8(rng, M * lda)
    packed = K.qs8_gemm_pack(W, bias, zp_in)

    def make(pool):
        C = np.full(M * ldc, 99, dtype=np.int8)
        return K.QS8Gemm(pool, A, packed, C, M, N, Kd, lda, ldc, scales, zp_out, qmin, qmax), C

    C = run_both(pools, make)
    a = np.lib.stride_tricks.as_strided(A, (M, Kd), (lda, 1)).astype(np.int64) - zp_in
    acc = a @ W.astype(np.int64) + (bias if bias is not None else 0)
    got = np.lib.stride_tricks.as_strided(C, (M, N), (ldc, 1))
    np.testing.assert_array_equal(got, np_requant(acc, scales, zp_out, qmin, qmax))
    # The row gaps between strided output rows stay untouched.
    gaps = np.ones(M * ldc, dtype=bool)
    for m in range(M):
        gaps[m * ldc:m * ldc + N] = False
    assert np.all(C[gaps] == 99)


def test_gemm_saturates_both_ways(pools):
    Kd, N = 64, 8
    W = np.full((Kd, N), 127, dtype=np.int8)
    W[:, 1::2] = -128
    A = np.full(Kd * 2, 127, dtype=np.int8)
    packed = K.qs8_gemm_pack(W, None, -128)
    C = np.zeros(2 * N, dtype=np.int8)
    K.QS8Gemm(pools[1], A, packed, C, 2, N, Kd, Kd, N, np.full(N, 1.0, F32), 0, -128, 127)()
    np.testing.assert_array_equal(C.reshape(2, N), np.tile([127, -128], (2, N // 2)))


# ---------------------------------------------------------------------------- Conv


CONV_CASES = [
    # (H, W, C_in, C_out, groups, K, S, D, pads)
    (9, 11, 5, 7, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    (10, 7, 8, 16, 1, (3, 3), (2, 2), (1, 1), (0, 1, 1, 0)),
    (6, 9, 6, 9, 3, (3, 2), (1, 2), (2, 1), (2, 0, 1, 2)),
    (8, 8, 16, 24, 1, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),      # pointwise: straight GEMM
    (8, 8, 8, 12, 2, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),       # grouped pointwise
    (9, 9, 4, 8, 1, (1, 1), (2, 2), (1, 1), (0, 0, 0, 0)),        # 1x1 stride 2: im2col
    (5, 5, 3, 4, 1, (5, 5), (1, 1), (1, 1), (4, 4, 4, 4)),        # pads wider than half
    (70, 70, 48, 8, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),     # im2col in pixel blocks
]


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_matches_numpy(pools, case):
    H, W_, C_in, C_out, groups, Kk, S, D, pads = CONV_CASES[case]
    rng = np.random.default_rng(100 + case)
    x = rand_i8(rng, (2 if case % 2 else 1, H, W_, C_in))
    w = rand_i8(rng, (C_out, C_in // groups) + Kk)
    bias = rng.integers(-20000, 20000, size=C_out).astype(np.int32)
    zp_in, zp_out = [(-128, 5), (127, -128), (3, 127), (0, 0)][case % 4]
    scales = (10.0 ** rng.uniform(-4.5, -2, size=C_out)).astype(F32)
    g = geometry(x.shape, C_out, groups, Kk, S, D, pads)
    packed = K.qs8_conv_pack(w, bias, groups, zp_in)
    qmin, qmax = (zp_out, 127) if case % 3 == 0 else (-128, 127)

    def make(pool):
        y = np.zeros((g["batch"], g["OH"], g["OW"], C_out), dtype=np.int8)
        return K.QS8WindowOp(pool, "conv", g, x, y, packed=packed, scales=scales,
                             input_zero_point=zp_in, output_zero_point=zp_out, qmin=qmin,
                             qmax=qmax), y

    y = run_both(pools, make)
    acc = np_conv_acc(x, w, bias, zp_in, S, pads, D, groups)
    np.testing.assert_array_equal(y, np_requant(acc, scales, zp_out, qmin, qmax))


# ---------------------------------------------------------------------------- Depthwise


DW_CASES = [
    # (H, W, C, K, S, D, pads)
    (12, 13, 16, 3, 1, 1, (1, 1, 1, 1)),
    (11, 14, 33, 3, 2, 1, (1, 1, 1, 1)),
    (9, 10, 24, 3, 2, 1, (0, 0, 1, 1)),    # TF "SAME" for stride 2: pad bottom/right only
    (10, 9, 17, 5, 1, 1, (2, 2, 2, 2)),
    (13, 12, 8, 5, 2, 1, (2, 2, 2, 2)),
    (15, 15, 32, 7, 1, 1, (3, 3, 3, 3)),
    (14, 16, 5, 7, 2, 1, (3, 3, 3, 3)),
    (8, 9, 40, 3, 1, 2, (2, 2, 2, 2)),     # dilated: generic variant
    (7, 9, 3, 2, 3, 1, (0, 1, 1, 0)),      # even kernel, stride 3
    (4, 5, 64, 3, 1, 1, (3, 3, 3, 3)),     # pads larger than the kernel reach
]


@pytest.mark.parametrize("case", range(len(DW_CASES)))
def test_dwconv_matches_numpy(pools, case):
    H, W_, C, Kk, S, D, pads = DW_CASES[case]
    rng = np.random.default_rng(200 + case)
    x = rand_i8(rng, (1 + case % 2, H, W_, C))
    w = rand_i8(rng, (C, 1, Kk, Kk))
    bias = rng.integers(-3000, 3000, size=C).astype(np.int32) if case % 3 else None
    zp_in, zp_out = [(-128, 0), (127, 10), (-7, -128), (60, 127)][case % 4]
    scales = (10.0 ** rng.uniform(-3.5, -1.5, size=C)).astype(F32)
    g = geometry(x.shape, C, C, (Kk, Kk), (S, S), (D, D), pads)
    packed = K.qs8_dwconv_pack(w, bias, zp_in)
    qmin, qmax = (max(zp_out, -128), 127) if case % 2 else (-128, 127)

    def make(pool):
        y = np.zeros((g["batch"], g["OH"], g["OW"], C), dtype=np.int8)
        return K.QS8WindowOp(pool, "dwconv", g, x, y, packed=packed, scales=scales,
                             input_zero_point=zp_in, output_zero_point=zp_out, qmin=qmin,
                             qmax=qmax), y

    y = run_both(pools, make)
    acc = np_conv_acc(x, w, bias, zp_in, (S, S), pads, (D, D), C)
    np.testing.assert_array_equal(y, np_requant(acc, scales, zp_out, qmin, qmax))


# ---------------------------------------------------------------------------- Pooling


def np_window_taps(x, Kk, S, D, pads, fill):
    """[n, OH, OW, KH*KW, C] taps of every window, padded taps = fill, and the in-bounds mask."""
    n, H, W, C = x.shape
    (KH, KW), (SH, SW), (DH, DW) = Kk, S, D
    pt, pl, pb, pr = pads
    xp = np.pad(x.astype(np.int64), ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    inside = np.pad(np.ones((H, W), dtype=bool), ((pt, pb), (pl, pr)))
    OH = (H + pt + pb - (DH * (KH - 1) + 1)) // SH + 1
    OW = (W + pl + pr - (DW * (KW - 1) + 1)) // SW + 1
    taps, valid = [], []
    for ky in range(KH):
        for kx in range(KW):
            sl = (slice(ky * DH, ky * DH + SH * (OH - 1) + 1, SH),
                  slice(kx * DW, kx * DW + SW * (OW - 1) + 1, SW))
            taps.append(xp[:, sl[0], sl[1], :])
            valid.append(inside[sl])
    return np.stack(taps, axis=3), np.stack(valid, axis=2)


POOL_CASES = [
    # (H, W, C, K, S, D, pads)
    (9, 9, 16, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
    (8, 11, 7, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
    (7, 6, 33, (3, 2), (1, 2), (1, 2), (1, 0, 2, 1)),
    (5, 5, 64, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
]


@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_maxpool_matches_numpy(pools, case):
    H, W_, C, Kk, S, D, pads = POOL_CASES[case]
    rng = np.random.default_rng(300 + case)
    x = rand_i8(rng, (2, H, W_, C))
    g = geometry(x.shape, C, 1, Kk, S, D, pads)
    qmin, qmax = [(-128, 127), (-20, 30)][case % 2]

    def make(pool):
        y = np.zeros((2, g["OH"], g["OW"], C), dtype=np.int8)
        return K.QS8WindowOp(pool, "maxpool", g, x, y, qmin=qmin, qmax=qmax), y

    y = run_both(pools, make)
    taps, _ = np_window_taps(x, Kk, S, D, pads, fill=-128)
    np.testing.assert_array_equal(y, np.clip(taps.max(axis=3), qmin, qmax).astype(np.int8))


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("case", range(len(POOL_CASES)))
def test_avgpool_matches_numpy(pools, case, count_include_pad):
    H, W_, C, Kk, S, D, pads = POOL_CASES[case]
    rng = np.random.default_rng(400 + case)
    x = rand_i8(rng, (1, H, W_, C))
    g = geometry(x.shape, C, 1, Kk, S, D, pads)
    zp_in, zp_out = [(-128, 3), (50, -128), (0, 127), (-9, 0)][case]
    avg_scale = [1.0, 0.37, 2.9, 0.013][case]

    def make(pool):
        y = np.zeros((1, g["OH"], g["OW"], C), dtype=np.int8)
        return K.QS8WindowOp(pool, "avgpool", g, x, y, input_zero_point=zp_in,
                             output_zero_point=zp_out, avg_scale=avg_scale,
                             count_include_pad=count_include_pad), y

    y = run_both(pools, make)
    taps, valid = np_window_taps(x, Kk, S, D, pads, fill=zp_in)
    acc = (taps - zp_in).sum(axis=3)
    count = np.full(valid.shape[:2], Kk[0] * Kk[1]) if count_include_pad else valid.sum(axis=2)
    mult = (F32(avg_scale) / count.astype(F32))[None, :, :, None]
    np.testing.assert_array_equal(y, np_output(acc.astype(F32) * mult, zp_out))


@pytest.mark.parametrize("pixels,C", [(49, 1280), (1, 3), (196, 65), (3136, 17)])
def test_global_avgpool_matches_numpy(pools, pixels, C):
    rng = np.random.default_rng(pixels + C)
    x = rand_i8(rng, (2, pixels, C))
    zp_in, scale, zp_out = -17, 0.83, 4

    def make(pool):
        y = np.zeros((2, C), dtype=np.int8)
        return K.QS8GlobalAvgPool(pool, x, y, 2, pixels, C, zp_in, scale, zp_out, -128, 127), y

    y = run_both(pools, make)
    acc = (x.astype(np.int64) - zp_in).sum(axis=1)
    np.testing.assert_array_equal(y, np_output(acc.astype(F32) * (F32(scale) / F32(pixels)), zp_out))


# ---------------------------------------------------------------------------- Elementwise


def np_binary(op, a, b, za, am, zb, bm, zy, qmin, qmax):
    a = a.astype(np.int32) - za
    b = b.astype(np.int32) - zb
    if op == "add":
        f = a.astype(F32) * F32(am) + b.astype(F32) * F32(bm)
    else:
        f = (a * b).astype(F32) * F32(am)
    return np_output(f, zy, qmin, qmax)


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("pattern", ["vv", "vc", "cv", "rows"])
def test_binary_matches_numpy(pools, op, pattern):
    rng = np.random.default_rng(["add", "mul"].index(op) * 10 + ["vv", "vc", "cv", "rows"].index(pattern))
    rows, cols = 7, 1000
    a = rand_i8(rng, (rows, cols))
    b = rand_i8(rng, (rows, cols))
    za, zb, zy = -128, 77, 5
    am, bm = (0.71, 1.9) if op == "add" else (0.0123, 0.0)
    qmin, qmax = (-100, 120)
    # (a_rs, a_cs, b_rs, b_cs) and the numpy broadcast views they describe
    if pattern == "vv":
        strides, av, bv = (cols, 1, cols, 1), a, b
    elif pattern == "vc":   # b one value per row
        strides, av, bv = (cols, 1, cols, 0), a, np.repeat(b[:, :1], cols, axis=1)
    elif pattern == "cv":   # a one value per row
        strides, av, bv = (cols, 0, cols, 1), np.repeat(a[:, :1], cols, axis=1), b
    else:                   # b one row for all rows (per-channel vector)
        strides, av, bv = (cols, 1, 0, 1), a, np.repeat(b[:1], rows, axis=0)
    a_rs, a_cs, b_rs, b_cs = strides

    def make(pool):
        y = np.zeros((rows, cols), dtype=np.int8)
        return K.QS8Binary(pool, op, rows, cols, a, a_rs, a_cs, b, b_rs, b_cs, y, za, am, zb,
                           bm if op == "add" else 1.0, zy, qmin, qmax), y

    y = run_both(pools, make)
    np.testing.assert_array_equal(y, np_binary(op, av, bv, za, am, zb, bm, zy, qmin, qmax))


def test_lut(pools):
    rng = np.random.default_rng(7)
    table = rand_i8(rng, 256)
    x = rand_i8(rng, 100003)

    def make(pool):
        y = np.zeros_like(x)
        return K.QS8Lut(pool, x, y, table), y

    y = run_both(pools, make)
    np.testing.assert_array_equal(y, table[x.view(np.uint8)])


def np_quantize(x, scale, zp):
    f = x.astype(F32) / F32(scale)
    f = np.where(np.isnan(f), F32(0), f)
    return np_output(f, zp)


def test_quantize_matches_numpy(pools):
    rng = np.random.default_rng(8)
    scale, zp = 0.05, -3
    x = rng.normal(0, 4, size=50001).astype(F32)
    # exact ties (k + 0.5) * scale, saturation, infinities, NaN, signed zero
    ties = (np.arange(-20, 20) + 0.5).astype(F32) * F32(0.25)
    x[:40] = ties
    x[40:47] = [np.inf, -np.inf, np.nan, 1e30, -1e30, -0.0, 6.4]

    def make(pool, s=scale):
        y = np.zeros(x.size, dtype=np.int8)
        return K.Quantize(pool, x, y, s, zp), y

    y = run_both(pools, make)
    np.testing.assert_array_equal(y, np_quantize(x, scale, zp))
    y = run_both(pools, lambda pool: make(pool, 0.25))
    np.testing.assert_array_equal(y, np_quantize(x, 0.25, zp))
    assert list(y[40:43]) == [127, -128, zp]


def test_quantize_nchw_writes_nhwc(pools):
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, size=(2, 3, 37, 41)).astype(F32)

    def make(pool):
        y = np.zeros((2, 37, 41, 3), dtype=np.int8)
        return K.Quantize(pool, x, y, 0.02, 11, nchw=(2, 3, 37 * 41)), y

    y = run_both(pools, make)
    np.testing.assert_array_equal(y, np_quantize(x.transpose(0, 2, 3, 1), 0.02, 11))


def test_dequantize(pools):
    x = np.arange(-128, 128, dtype=np.int8).repeat(3)

    def make(pool):
        y = np.zeros(x.size, dtype=F32)
        return K.Dequantize(pool, x, y, 0.0625, -7), y

    y = run_both(pools, make)
    np.testing.assert_array_equal(y, (x.astype(np.int32) + 7).astype(F32) * F32(0.0625))


def test_transpose2d_int8(pools):
    rng = np.random.default_rng(10)
    x = rand_i8(rng, (2, 19, 131))

    def make(pool):
        y = np.zeros((2, 131, 19), dtype=np.int8)
        return K.Transpose2d(pool, x, y, 2, 19, 131), y

    y = run_both(pools, make)
    np.testing.assert_array_equal(y, x.transpose(0, 2, 1))


# ---------------------------------------------------------------------------- argument checks


def test_steps_reject_bad_arguments(pools):
    pool = pools[1]
    W = np.zeros((4, 8), dtype=np.int8)
    with pytest.raises(TypeError, match="int8"):
        K.qs8_gemm_pack(W.astype(np.float32), None, 0)
    with pytest.raises(ValueError, match="int8 range"):
        K.qs8_gemm_pack(W, None, 128)
    with pytest.raises(TypeError, match="integer"):
        K.qs8_gemm_pack(W, np.zeros(8, dtype=np.float32), 0)
    with pytest.raises(ValueError, match="expected 8"):
        K.qs8_gemm_pack(W, np.zeros(7, dtype=np.int32), 0)
    packed = K.qs8_gemm_pack(W, None, 0)
    A, C, s = np.zeros(8, np.int8), np.zeros(16, np.int8), np.ones(8, F32)
    with pytest.raises(TypeError, match="packed"):
        K.QS8Gemm(pool, A, W, C, 2, 8, 4, 4, 8, s, 0, -128, 127)
    with pytest.raises(ValueError, match="packed bytes"):
        K.QS8Gemm(pool, A, packed[:10], C, 2, 8, 4, 4, 8, s, 0, -128, 127)
    with pytest.raises(TypeError, match="float32"):
        K.QS8Gemm(pool, A, packed, C, 2, 8, 4, 4, 8, s.astype(np.float64), 0, -128, 127)
    with pytest.raises(ValueError, match="above qmax"):
        K.QS8Gemm(pool, A, packed, C, 2, 8, 4, 4, 8, s, 0, 10, 5)
    with pytest.raises(ValueError, match="C"):
        K.QS8Gemm(pool, A, packed, C[:10], 2, 8, 4, 4, 8, s, 0, -128, 127)
    g = geometry((1, 4, 4, 8), 8, 8, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))
    x = np.zeros((1, 4, 4, 8), np.int8)
    with pytest.raises(ValueError, match="packed weights and scales"):
        K.QS8WindowOp(pool, "dwconv", g, x, x.copy())
    with pytest.raises(ValueError, match="unknown kind"):
        K.QS8WindowOp(pool, "conv_transpose", g, x, x.copy())
    with pytest.raises(TypeError, match="int8"):
        K.QS8WindowOp(pool, "maxpool", g, x.astype(np.float32), x.copy())
    with pytest.raises(ValueError, match="positive"):
        K.QS8WindowOp(pool, "avgpool", g, x, x.copy(), avg_scale=0.0)
    with pytest.raises(ValueError, match="256"):
        K.QS8Lut(pool, x, x, np.zeros(255, np.int8))
    with pytest.raises(ValueError, match="column strides"):
        K.QS8Binary(pool, "add", 1, 4, A, 4, 0, A, 4, 0, C, 0, 1.0, 0, 1.0, 0, -128, 127)
    with pytest.raises(ValueError, match="nchw"):
        K.Quantize(pool, np.zeros(12, F32), np.zeros(12, np.int8), 1.0, 0, nchw=(1, 3, 5))
