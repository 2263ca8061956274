"""Train the bundled tiny VLM (models/vlm_digits): a MobileNet-style vision encoder, an MLP projector to 16
image tokens and a no-KV LFM2-style decoder, on captions of and questions about generated digit scenes.

    nice -n 10 python tools/train_vlm.py --out models [--seed 0] [--threads 2]
    python tools/train_vlm.py --out models --eval-only       # re-measure and rewrite the card

Writes (each file atomically) models/vlm_digits/{vision.onnx, vision_int8.onnx, projector.safetensors,
config.json, model.safetensors, tokenizer.json} and the card models/vlm_digits.json + vlm_digits.md.
The decoder is written in the transformers LFM2 checkpoint layout edgert.lm reads (config.json with
``edgert_attention: gated_delta``); the vision encoder is plain ONNX (Conv/Relu/Add) run by edgert.load;
the int8 encoder is quantized with edgert.tools.quantize (onnxruntime static QDQ) on training scenes.
Deterministic given --seed and --threads.  Needs the tools and lm extras (torch, tokenizers, safetensors).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgert.errors import EdgeRTError  # noqa: E402
from edgert.tasks import vlm_prep as P  # noqa: E402

NAME = "vlm_digits"
SCENE_SIZE = 96
OBJECTS = (1, 2)
DIGIT_SCALE = (0.25, 0.5)     # digit height / scene side: 16-32 pixels at the encoder's 64x64 input
GRID = 4                      # 4 x 4 = 16 image tokens
ENC_WIDTHS = (24, 48, 96, 128)  # stem, then three stride-2 stages of two inverted-residual blocks
ENC_CH = ENC_WIDTHS[-1]
ENC_EXPAND = 4
HIDDEN = 128
NUMBERS = ("no", "one", "two", "three", "four")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="models", help="folder for the card and the model folder")
    p.add_argument("--name", default=NAME)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    p.add_argument("--train", type=int, default=48000, help="training scenes")
    p.add_argument("--test", type=int, default=300, help="held-out (test split) scenes for the metrics")
    p.add_argument("--pretrain-steps", type=int, default=3000,
                   help="steps that train the encoder alone to name the digit in each image-token cell")
    p.add_argument("--steps", type=int, default=3600, help="steps that train the projector and decoder")
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--questions", type=float, default=0.3, help="fraction of training samples that are questions")
    p.add_argument("--calib", type=int, default=200, help="calibration scenes for the int8 encoder")
    p.add_argument("--eval-only", action="store_true", help="re-evaluate the written model and rewrite the card")
    p.add_argument("--force", action="store_true", help="overwrite an existing model")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------ data

def scene_config():
    from edgert.zoo.scenes import SceneConfig

    return SceneConfig(size=(SCENE_SIZE, SCENE_SIZE), objects=OBJECTS, distractors=(0, 2), digit_scale=DIGIT_SCALE)


def questions_for(rng, labels, colors):
    """(prompt, answer) pairs a scene supports: count, and the colour of a digit that occurs once."""
    out = [("how many digits?", NUMBERS[len(labels)] if len(labels) < len(NUMBERS) else str(len(labels)))]
    for lab in sorted(set(int(x) for x in labels)):
        idx = [i for i, x in enumerate(labels) if int(x) == lab]
        if len(idx) == 1:
            out.append((f"what colour is the {lab}?", colors[idx[0]]))
    return out


def scene_samples(data):
    """Per image: caption, labels, colour names."""
    from edgert.zoo.scenes import COLOR_NAMES

    n = len(data["images"])
    labels = [[] for _ in range(n)]
    colors = [[] for _ in range(n)]
    for lab, col, i in zip(data["labels"], data["colors"], data["image_index"]):
        labels[i].append(int(lab))
        colors[i].append(COLOR_NAMES[int(col)])
    return [(str(data["captions"][i]), labels[i], colors[i]) for i in range(n)]


def caption_objects(text):
    """[(colour, digit, position)] of a caption such as "a red 3 at the top left and a 7 at the right"."""
    objects = []
    for phrase in text.split(" and "):
        words = phrase.split()
        if len(words) >= 5 and words[0] in ("a", "an") and words[3:5] == ["at", "the"]:
            objects.append((words[1], words[2], " ".join(words[5:])))
    return objects


def caption_part_scores(pairs):
    """Over (reference caption, generated caption) pairs: the fraction with the right number of
    objects, and over the objects of those (in order) the fraction with the right colour, digit and
    position; what exact match alone hides is which of the three the model gets wrong."""
    count, hits, objects = 0, {"colour": 0, "digit": 0, "position": 0}, 0
    for ref, got in pairs:
        a, b = caption_objects(ref), caption_objects(got)
        if len(a) != len(b):
            continue
        count += 1
        for x, y in zip(a, b):
            objects += 1
            for i, key in enumerate(hits):
                hits[key] += x[i] == y[i]
    return {"count": count / max(len(pairs), 1), **{k: v / max(objects, 1) for k, v in hits.items()}}


def cell_targets(data):
    """(N, GRID*GRID, 2) int64: per image-token cell, the digit whose box centre lies in it (10 for none)
    and that digit's colour (index into COLOR_NAMES, len(COLOR_NAMES) for none). The encoder is trained
    on these before the decoder sees its features, so they carry what the captions name."""
    from edgert.zoo.scenes import COLOR_NAMES

    n = len(data["images"])
    cells = np.empty((n, GRID * GRID, 2), np.int64)
    cells[..., 0], cells[..., 1] = 10, len(COLOR_NAMES)
    for box, lab, col_idx, i in zip(data["boxes"], data["labels"], data["colors"], data["image_index"]):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        col = min(GRID - 1, max(0, int(cx * GRID / SCENE_SIZE)))
        row = min(GRID - 1, max(0, int(cy * GRID / SCENE_SIZE)))
        cells[i, row * GRID + col] = int(lab), int(col_idx)
    return cells


def train_tokenizer(texts, path):
    """Small byte-level BPE (exact round trip) over the caption / question / answer words."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=list(P.SPECIAL_TOKENS), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    for i, s in enumerate(P.SPECIAL_TOKENS):
        assert tok.token_to_id(s) == i
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    os.close(fd)
    tok.save(tmp)
    _publish(tmp, path)
    return tok


# ----------------------------------------------------------------------------------- models

def build_models(torch, vocab):
    nn = torch.nn
    F = torch.nn.functional

    class IR(nn.Module):
        """Inverted residual: 1x1 expand + BN + ReLU, 3x3 depthwise (stride) + BN + ReLU, 1x1 project + BN."""

        def __init__(self, cin, cout, stride, expand=ENC_EXPAND):
            super().__init__()
            mid = cin * expand
            self.stride, self.res = stride, stride == 1 and cin == cout
            self.convs = nn.ModuleList([nn.Conv2d(cin, mid, 1, bias=False),
                                        nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
                                        nn.Conv2d(mid, cout, 1, bias=False)])
            self.bns = nn.ModuleList([nn.BatchNorm2d(mid), nn.BatchNorm2d(mid), nn.BatchNorm2d(cout)])

        def forward(self, x):
            y = F.relu(self.bns[0](self.convs[0](x)))
            y = F.relu(self.bns[1](self.convs[1](y)))
            y = self.bns[2](self.convs[2](y))
            return x + y if self.res else y

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, ENC_WIDTHS[0], 3, 2, 1, bias=False)
            self.stem_bn = nn.BatchNorm2d(ENC_WIDTHS[0])
            self.blocks = nn.ModuleList([blk for cin, cout in zip(ENC_WIDTHS, ENC_WIDTHS[1:])
                                         for blk in (IR(cin, cout, 2), IR(cout, cout, 1))])

        def forward(self, x):
            x = F.relu(self.stem_bn(self.stem(x)))
            for b in self.blocks:
                x = b(x)
            return x                                              # (N, C, 4, 4)

    class Projector(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(ENC_CH, 2 * HIDDEN)
            self.fc2 = nn.Linear(2 * HIDDEN, HIDDEN)
            self.pos = nn.Parameter(torch.zeros(GRID * GRID, HIDDEN))

        def forward(self, feats):
            t = feats.flatten(2).transpose(1, 2)                   # (N, 16, C), row-major grid order
            return self.fc2(F.silu(self.fc1(t))) + self.pos

    lm = build_lm(torch, lm_config_dict(vocab))
    return Encoder(), Projector(), lm


def lm_config_dict(vocab):
    return {"architectures": ["Lfm2ForCausalLM"], "model_type": "lfm2", "vocab_size": int(vocab),
            "hidden_size": HIDDEN, "intermediate_size": 256, "block_auto_adjust_ff_dim": False,
            "num_hidden_layers": 4, "layer_types": ["conv", "full_attention", "conv", "full_attention"],
            "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 32, "norm_eps": 1e-5,
            "conv_L_cache": 3, "conv_bias": False, "max_position_embeddings": 256,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}, "tie_word_embeddings": True,
            "pad_token_id": P.PAD, "bos_token_id": P.BOS, "eos_token_id": P.EOS, "edgert_attention": "gated_delta"}


def build_lm(torch, cfg):
    """A PyTorch LFM2 decoder with gated-delta attention layers whose state_dict keys are the transformers
    Lfm2ForCausalLM names edgert.lm reads (see edgert.lm.model.expected_shapes)."""
    nn = torch.nn
    F = torch.nn.functional
    h, d, hq, hkv = cfg["hidden_size"], cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    eps, kconv, ffn = cfg["norm_eps"], cfg["conv_L_cache"], cfg["intermediate_size"]

    class RMSNorm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(n))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = nn.Linear(h, ffn, bias=False)
            self.w3 = nn.Linear(h, ffn, bias=False)
            self.w2 = nn.Linear(ffn, h, bias=False)

        def forward(self, x):
            return self.w2(F.silu(self.w1(x)) * self.w3(x))

    class ShortConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_proj = nn.Linear(h, 3 * h, bias=False)
            self.conv = nn.Conv1d(h, h, kconv, groups=h, padding=kconv - 1, bias=False)
            self.out_proj = nn.Linear(h, h, bias=False)

        def forward(self, x):                                     # (N, T, h)
            b, c, xx = self.in_proj(x).transpose(1, 2).chunk(3, dim=1)
            y = self.conv(b * xx)[..., : x.shape[1]]
            return self.out_proj((c * y).transpose(1, 2))

    class GatedDelta(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(h, hq * d, bias=False)
            self.k_proj = nn.Linear(h, hkv * d, bias=False)
            self.v_proj = nn.Linear(h, hkv * d, bias=False)
            self.out_proj = nn.Linear(hq * d, h, bias=False)
            self.q_layernorm = RMSNorm(d)
            self.k_layernorm = RMSNorm(d)
            self.b_proj = nn.Linear(h, hkv, bias=False)
            self.a_proj = nn.Linear(h, hkv, bias=False)
            self.A_log = nn.Parameter(torch.log(torch.empty(hkv).uniform_(1.0, 16.0)))
            dt = torch.empty(hkv).uniform_(1e-3, 1e-1)
            self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))

        def forward(self, x):
            n, t, _ = x.shape
            q = self.q_layernorm(self.q_proj(x).view(n, t, hq, d))
            k = self.k_layernorm(self.k_proj(x).view(n, t, hkv, d))
            v = self.v_proj(x).view(n, t, hkv, d)
            q = q * torch.rsqrt(q.pow(2).sum(-1, keepdim=True) + 1e-6)
            k = k * torch.rsqrt(k.pow(2).sum(-1, keepdim=True) + 1e-6)
            beta = torch.sigmoid(self.b_proj(x))                   # (N, T, Hkv)
            g = -torch.exp(self.A_log) * F.softplus(self.a_proj(x) + self.dt_bias)
            decay = torch.exp(g)
            group = hq // hkv
            s = x.new_zeros(n, hkv, d, d)
            outs = []
            for i in range(t):
                s = s * decay[:, i, :, None, None]
                kt, vt = k[:, i], v[:, i]
                retrieved = torch.einsum("nhdm,nhd->nhm", s, kt)
                vn = beta[:, i, :, None] * (vt - retrieved)
                s = s + kt[..., :, None] * vn[..., None, :]
                qt = q[:, i].view(n, hkv, group, d)
                outs.append(torch.einsum("nhgd,nhdm->nhgm", qt, s).reshape(n, hq * d) * (d ** -0.5))
            return self.out_proj(torch.stack(outs, 1))

    class Layer(nn.Module):
        def __init__(self, kind):
            super().__init__()
            self.kind = kind
            self.operator_norm = RMSNorm(h)
            self.ffn_norm = RMSNorm(h)
            self.feed_forward = MLP()
            if kind == "conv":
                self.conv = ShortConv()
            else:
                self.self_attn = GatedDelta()

        def forward(self, x):
            op = self.conv if self.kind == "conv" else self.self_attn
            x = x + op(self.operator_norm(x))
            return x + self.feed_forward(self.ffn_norm(x))

    class Body(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(cfg["vocab_size"], h)
            nn.init.normal_(self.embed_tokens.weight, std=h ** -0.5)
            self.layers = nn.ModuleList([Layer(k) for k in cfg["layer_types"]])
            self.embedding_norm = RMSNorm(h)

    class CausalLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Body()

        def forward_embeds(self, x):                              # (N, T, h) -> logits (N, T, V)
            for layer in self.model.layers:
                x = layer(x)
            return self.model.embedding_norm(x) @ self.model.embed_tokens.weight.T

    return CausalLM()


def fold_bn(conv, bn):
    """Conv weight/bias with an eval-mode BatchNorm folded in (numpy)."""
    w = conv.weight.detach().double().numpy()
    s = (bn.weight.detach().double() / (bn.running_var.double() + bn.eps).sqrt()).numpy()
    b = bn.bias.detach().double().numpy() - bn.running_mean.double().numpy() * s
    return (w * s[:, None, None, None]).astype(np.float32), b.astype(np.float32)


def encoder_onnx(encoder):
    """The trained encoder as an ONNX graph of Conv (BatchNorm folded), Relu and Add."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    count = [0]

    def conv(x, c, bn, relu, stride=1, groups=1):
        count[0] += 1
        w, b = fold_bn(c, bn)
        name = f"conv{count[0]}"
        inits.extend([numpy_helper.from_array(w, name + ".w"), numpy_helper.from_array(b, name + ".b")])
        k = w.shape[-1]
        out = name + (".pre" if relu else "")
        nodes.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [out], name=name,
                                      kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4,
                                      group=groups))
        if relu:
            nodes.append(helper.make_node("Relu", [out], [name], name=name + ".relu"))
            out = name
        return out

    x = conv("image", encoder.stem, encoder.stem_bn, True, 2)
    for bi, blk in enumerate(encoder.blocks):
        y = conv(x, blk.convs[0], blk.bns[0], True)
        y = conv(y, blk.convs[1], blk.bns[1], True, blk.stride, blk.convs[1].groups)
        y = conv(y, blk.convs[2], blk.bns[2], False)
        if blk.res:
            nodes.append(helper.make_node("Add", [x, y], [f"block{bi}"], name=f"block{bi}.add"))
            y = f"block{bi}"
        x = y
    nodes.append(helper.make_node("Identity", [x], ["features"], name="features"))
    graph = helper.make_graph(
        nodes, "vlm_digits_vision",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, P.IMAGE_SIZE, P.IMAGE_SIZE])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, ENC_CH, GRID, GRID])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgert")
    model.ir_version = 8
    model.doc_string = (f"vlm_digits vision encoder: RGB {P.IMAGE_SIZE}x{P.IMAGE_SIZE}, (x/255 - 0.5)/0.25 -> "
                        f"features [1, {ENC_CH}, {GRID}, {GRID}]")
    onnx.checker.check_model(model)
    return model


def _publish(tmp, path):
    """Rename a finished temporary file into place, readable by all (mkstemp creates it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def save_safetensors(tensors, path):
    from safetensors.numpy import save_file

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}, tmp,
                  metadata={"format": "np"})
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    _publish(tmp, path)


# ------------------------------------------------------------------------------- training

def make_batch(torch, rng, tok_cache, samples, idx, question_frac):
    """Text ids (N, L) (prompt part starting with <bos>) and loss mask (N, L) of samples idx."""
    seqs, masks = [], []
    for i in idx:
        caption, labels, colors = samples[i]
        if rng.random() < question_frac:
            qs = questions_for(rng, labels, colors)
            prompt, answer = qs[int(rng.integers(len(qs)))]
        else:
            prompt, answer = "", caption
        head = tok_cache(("p", prompt))
        tail = tok_cache(("a", answer)) + [P.EOS]
        seqs.append(head + tail)
        masks.append([0] * (len(head) - 1) + [1] * len(tail) + [0])  # predict position t+1 from t
    length = max(len(s) for s in seqs)
    ids = np.full((len(idx), length), P.PAD, np.int64)
    mask = np.zeros((len(idx), length), np.float32)
    for j, (s, m) in enumerate(zip(seqs, masks)):
        ids[j, :len(s)] = s
        mask[j, :len(s)] = m[:len(s)]
    return torch.from_numpy(ids), torch.from_numpy(mask)


def _optimise(torch, tqdm, params, lr, steps, name, loss_fn):
    """AdamW with warm-up and cosine decay, gradient clipping; the per-step losses."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warm = max(1, min(150, steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(steps, 1)))))
    history, t0 = [], time.time()
    bar = tqdm(range(steps), desc=f"training the {name}", mininterval=5, file=sys.stdout)
    for step in bar:
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        history.append(loss.item())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(history[-50:]):.3f}")
        if step % 250 == 0:
            print(f"{name} step {step} loss {np.mean(history[-250:]):.4f} ({time.time() - t0:.0f} s)", flush=True)
    return history


def vlm_logits(torch, encoder, projector, lm, x, ids):
    """Logits (N, 16 + L, V) for images x and text ids (N, L)."""
    img = projector(encoder(x))
    emb = lm.model.embed_tokens(ids)
    return lm.forward_embeds(torch.cat([img, emb], 1))


def train(args, out_dir):
    import torch
    from tqdm import tqdm

    from edgert.zoo.scenes import generate_split

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    started = time.time()
    print(f"generating {args.train} training scenes ({SCENE_SIZE}x{SCENE_SIZE}, {OBJECTS[0]}-{OBJECTS[1]} digits)",
          flush=True)
    data = generate_split(args.seed, "train", args.train, scene_config(), workers=args.threads)
    samples = scene_samples(data)
    images_x = np.concatenate([P.preprocess(im) for im in data["images"]])
    cells = torch.from_numpy(cell_targets(data))
    print(f"  {time.time() - started:.0f} s", flush=True)

    from edgert.zoo.scenes import COLOR_NAMES

    texts = [s[0] for s in samples] + ["how many digits?"] + list(NUMBERS)
    texts += [f"what colour is the {d}?" for d in range(10)] + list(COLOR_NAMES)
    tok = train_tokenizer(texts, out_dir / "tokenizer.json")
    cache = {}

    def tok_cache(key):
        if key not in cache:
            kind, text = key
            cache[key] = P.prompt_ids(tok, text) if kind == "p" else list(tok.encode(text).ids)
        return cache[key]

    encoder, projector, lm = build_models(torch, tok.get_vocab_size())
    print(f"parameters: encoder {sum(p.numel() for p in encoder.parameters()):,}, projector "
          f"{sum(p.numel() for p in projector.parameters()):,}, LM {sum(p.numel() for p in lm.parameters()):,}; "
          f"vocab {tok.get_vocab_size()}", flush=True)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    # Phase 1: the encoder alone learns to name the digit (or none) whose centre lies in each image-token
    # cell, and its colour. Trained jointly with the decoder, where the caption loss is mostly colours and
    # positions, an earlier recipe's encoder named the digits at chance; a 1x1 cell head on its 4x4 map
    # gives it the signal directly, and the colour term keeps what digit classification alone would discard.
    n_colours = len(COLOR_NAMES) + 1
    cell_head = torch.nn.Conv2d(ENC_CH, 11 + n_colours, 1)  # training only: not part of the exported model
    enc_params = list(encoder.parameters()) + list(cell_head.parameters())
    ce = torch.nn.functional.cross_entropy

    def encoder_loss():
        idx = rng.integers(0, len(samples), args.batch)
        out = cell_head(encoder(torch.from_numpy(images_x[idx]))).flatten(2).transpose(1, 2)   # (N, cells, K)
        target = cells[idx]
        return (ce(out[..., :11].reshape(-1, 11), target[..., 0].reshape(-1))
                + 0.5 * ce(out[..., 11:].reshape(-1, n_colours), target[..., 1].reshape(-1)))

    encoder.train()
    enc_history = _optimise(torch, tqdm, enc_params, args.lr, args.pretrain_steps, "encoder", encoder_loss)
    encoder.eval()

    def encode(x):
        with torch.no_grad():
            return torch.cat([encoder(torch.from_numpy(x[i:i + 256])) for i in range(0, len(x), 256)])

    features = encode(images_x)
    encoder_seconds = time.time() - t0
    held_out = generate_split(args.seed + 1000, "test", args.test, scene_config(), workers=args.threads)
    with torch.no_grad():
        predicted = cell_head(encode(np.concatenate([P.preprocess(im) for im in held_out["images"]])))
    predicted = predicted.flatten(2).transpose(1, 2)[..., :11].argmax(-1).numpy()
    truth = cell_targets(held_out)[..., 0]
    cell_accuracy = float((predicted == truth)[truth != 10].mean()) if (truth != 10).any() else float("nan")
    print(f"encoder: held-out digit accuracy of the cell head {cell_accuracy:.3f}", flush=True)

    # Phase 2: projector and decoder learn to caption and answer from the frozen encoder's features (computed
    # once above, in the eval-mode form that is exported, so training sees what inference will).
    def lm_loss():
        idx = rng.integers(0, len(samples), args.batch)
        ids, mask = make_batch(torch, rng, tok_cache, samples, idx, args.questions)
        emb = lm.model.embed_tokens(ids)
        img = projector(features[torch.from_numpy(idx)])
        logits = lm.forward_embeds(torch.cat([img, emb], 1))[:, GRID * GRID:]
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                ids[:, 1:].reshape(-1), reduction="none")
        return (nll * mask[:, :-1].reshape(-1)).sum() / mask.sum()

    projector.train(), lm.train()
    history = _optimise(torch, tqdm, list(projector.parameters()) + list(lm.parameters()), args.lr, args.steps,
                        "decoder", lm_loss)
    seconds = time.time() - t0
    encoder.eval(), projector.eval(), lm.eval()

    # artifacts
    from edgert.zoo.convert import write_model_atomic

    write_model_atomic(encoder_onnx(encoder), str(out_dir / "vision.onnx"))
    save_safetensors({k: v.detach().numpy() for k, v in projector.state_dict().items()},
                     out_dir / "projector.safetensors")
    save_safetensors({k: v.detach().numpy() for k, v in lm.state_dict().items()}, out_dir / "model.safetensors")
    write_text_atomic(out_dir / "config.json", json.dumps(lm_config_dict(tok.get_vocab_size()), indent=2) + "\n")
    calib = data["images"][: args.calib]
    with tempfile.TemporaryDirectory() as cdir:
        import cv2

        for i, im in enumerate(calib):
            small = cv2.resize(im, (P.IMAGE_SIZE, P.IMAGE_SIZE), interpolation=cv2.INTER_AREA)
            cv2.imwrite(os.path.join(cdir, f"{i:05d}.png"), small[:, :, ::-1])
        from edgert.tools.quantize import quantize_onnx

        report = quantize_onnx(out_dir / "vision.onnx", out_dir / "vision_int8.onnx", cdir, mean=P.MEAN, std=P.STD,
                               size=(P.IMAGE_SIZE, P.IMAGE_SIZE), force=True, seed=args.seed)
    print(report, flush=True)
    recipe = {"train_seconds": round(seconds), "encoder_seconds": round(encoder_seconds),
              "encoder_cell_digit_accuracy": cell_accuracy,
              "encoder_final_loss": float(np.mean(enc_history[-100:])) if enc_history else None,
              "final_loss": float(np.mean(history[-100:])),
              "loss_history": [round(float(np.mean(history[i:i + 250])), 4) for i in range(0, len(history), 250)],
              "setup_seconds": round(t0 - started), "vocab": tok.get_vocab_size()}
    return recipe, (encoder, projector, lm)


# ------------------------------------------------------------------------------- evaluate

def evaluate(args, out_dir, card_path):
    """Caption exact match / token accuracy (teacher-forced next-token accuracy over the answer) and
    question accuracy on held-out test-split scenes, for fp32 and int8 (vision int8 QDQ + LM int8 weights)."""
    from edgert.tasks.vlm import VLM
    from edgert.zoo.scenes import generate_split

    data = generate_split(args.seed + 1000, "test", args.test, scene_config(), workers=args.threads)
    samples = scene_samples(data)
    metrics = {}
    for kind, quant in (("fp32", None), ("int8", "int8")):
        vlm = VLM.load(out_dir, threads=args.threads, quantize=quant)
        exact, tok_ok, tok_n, q_ok, q_n = 0, 0, 0, 0, 0
        pairs = []
        rng = np.random.default_rng(0)
        for image, (caption, labels, colors) in zip(data["images"], samples):
            res = vlm.generate(image, max_new_tokens=40)
            exact += res.text == caption
            pairs.append((caption, res.text))
            ok, n = vlm.answer_token_accuracy(image, "", caption)
            tok_ok += ok
            tok_n += n
            qs = questions_for(rng, labels, colors)
            prompt, answer = qs[int(rng.integers(len(qs)))]
            q_ok += vlm.generate(image, prompt, max_new_tokens=8).text == answer
            q_n += 1
        metrics[kind] = {"caption_exact_match": exact / len(samples), "caption_token_accuracy": tok_ok / tok_n,
                         "question_accuracy": q_ok / q_n, "caption_parts": caption_part_scores(pairs),
                         "scenes": len(samples)}
        print(kind, metrics[kind], flush=True)
    return metrics


def write_card(args, out_dir, card_path, metrics, recipe):
    files = {"vision_fp32": "vision.onnx", "vision_int8": "vision_int8.onnx", "projector": "projector.safetensors",
             "lm_config": "config.json", "lm_weights": "model.safetensors", "tokenizer": "tokenizer.json"}
    sizes = {k: os.path.getsize(out_dir / v) for k, v in files.items()}
    card = {"name": args.name, "task": "vlm",
            "files": {k: f"{args.name}/{v}" for k, v in files.items()},
            "input": {"shape": [1, 3, P.IMAGE_SIZE, P.IMAGE_SIZE], "layout": "NCHW", "color": "RGB",
                      "scale": 1 / 255, "mean": list(P.MEAN), "std": list(P.STD), "resize": "area, to 64x64"},
            "image_tokens": GRID * GRID, "prompt_format": "<image tokens> <bos> prompt <sep> answer <eos>",
            "metrics": metrics, "card": f"{args.name}.md", "size_bytes": sizes,
            "recipe": dict(recipe, seed=args.seed, threads=args.threads, train_scenes=args.train, steps=args.steps,
                           batch=args.batch, lr=args.lr, questions=args.questions, pretrain_steps=args.pretrain_steps,
                           scene_size=SCENE_SIZE,
                           objects=list(OBJECTS), test_scenes=args.test)}
    write_text_atomic(card_path, json.dumps(card, indent=2) + "\n")
    m = metrics
    r = card["recipe"]
    total = sum(sizes.values())
    digit = m["fp32"]["caption_parts"]["digit"]
    lo, hi = (round(f * P.IMAGE_SIZE) for f in DIGIT_SCALE)
    cell = r.get("encoder_cell_digit_accuracy")
    limitation = (f"\nWhat limits it: digit identity ({digit:.2f}) is the weakest part of a caption. "
                  f"The encoder's cell head names {'?' if cell is None else f'{cell:.2f}'} of the held-out digits (handwriting never seen "
                  f"in training, {lo}-{hi} pixels high at the {P.IMAGE_SIZE}x{P.IMAGE_SIZE} input); a caption is "
                  "exact only when every digit in it is.\n")
    md = f"""# vlm_digits -- a tiny captioning VLM for digit scenes

A MobileNet-style vision encoder (inverted-residual blocks, depthwise-separable 3x3) -> an MLP projector to
{GRID * GRID} image tokens ({GRID}x{GRID} grid) -> a 4-layer no-KV LFM2-style decoder (conv, gated-delta linear attention,
conv, gated-delta; hidden {HIDDEN}; constant decode memory). It describes scenes like
"a red 3 at the top left and a blue 7 at the bottom right" and answers "how many digits?" and
"what colour is the N?".

## Data
Generated by `edgert.zoo.scenes` (handwritten scikit-learn digits on scikit-image / scikit-learn photographs),
**{SCENE_SIZE}x{SCENE_SIZE} scenes with {OBJECTS[0]}-{OBJECTS[1]} digits, each
{DIGIT_SCALE[0]:.0%}-{DIGIT_SCALE[1]:.0%} of the scene high** (smaller, sparser and with larger digits than the detector's 256x256 / 1-4 digit scenes, to fit a
2-core training budget), resized to {P.IMAGE_SIZE}x{P.IMAGE_SIZE} for the encoder.
Train: {r['train_scenes']} scenes of the train split (seed {r['seed']}); metrics: {r['test_scenes']} fresh scenes of
the test split (seed {r['seed'] + 1000}; its digit scans are never seen in training).
Samples: captions (prompt "") and, for {r['questions']:.0%} of them, a question with a one-word answer.

## Recipe
`nice -n 10 python tools/train_vlm.py --out models --seed {r['seed']} --threads {r['threads']}`
(defaults: {r['train_scenes']} scenes, {r['pretrain_steps']} + {r['steps']} steps), from scratch in two phases, each AdamW lr {r['lr']}, batch {r['batch']}, warm-up then cosine decay:
1. the encoder alone, {r['pretrain_steps']} steps: a training-only 1x1 head on its 4x4 feature map names the digit (or
   none) whose centre lies in each image-token cell, and that digit's colour (cross-entropy; colour weight 0.5).
   (An earlier recipe trained all parts jointly, with a smaller encoder and smaller digits: its captions named
   the digits at chance.)
2. projector and decoder, {r['steps']} steps, on the frozen encoder's features: loss on answer tokens only.

Training took {r['train_seconds']} s on {r['threads']} threads ({r.get('encoder_seconds', '?')} s of it the encoder;
plus {r['setup_seconds']} s data generation), final loss {r['final_loss']:.4f}.
Tokenizer: byte-level BPE (`tokenizers`, {r.get('vocab', 'see tokenizer.json')} tokens).
int8: vision encoder quantized by `edgert.tools.quantize` (onnxruntime static QDQ, per-channel int8 weights) on
{args.calib} training scenes; LM weights int8 per output channel at load (`VLM.load(..., quantize="int8")`).

## Metrics (held-out test split, greedy decoding, edgert runtime)
| model | caption exact match | caption token accuracy | question accuracy |
|---|---|---|---|
| fp32 | {m['fp32']['caption_exact_match']:.3f} | {m['fp32']['caption_token_accuracy']:.3f} | {m['fp32']['question_accuracy']:.3f} |
| int8 (vision + LM) | {m['int8']['caption_exact_match']:.3f} | {m['int8']['caption_token_accuracy']:.3f} | {m['int8']['question_accuracy']:.3f} |

Token accuracy: teacher-forced next-token accuracy over the caption tokens and <eos>.

What the captions get right (objects of captions that name the right number of digits, in order):
| model | object count | colour | digit | position |
|---|---|---|---|---|
""" + "\n".join(f"| {name} | {m[k]['caption_parts']['count']:.3f} | {m[k]['caption_parts']['colour']:.3f} | "
                f"{m[k]['caption_parts']['digit']:.3f} | {m[k]['caption_parts']['position']:.3f} |"
                for k, name in (("fp32", "fp32"), ("int8", "int8 (vision + LM)"))) + "\n" + limitation + f"""
## Files ({total / 1e6:.2f} MB)
""" + "\n".join(f"- `{args.name}/{files[k]}`: {sizes[k]:,} bytes" for k in files) + "\n"
    write_text_atomic(card_path.with_suffix(".md"), md)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out_dir = out / args.name
    card_path = out / f"{args.name}.json"
    if args.eval_only:
        recipe = json.loads((out_dir / "train_recipe.json").read_text())
    else:
        if (out_dir.exists() or card_path.exists()) and not args.force:
            raise EdgeRTError(f"{out_dir} or {card_path} exists; pass --force to overwrite")
        out_dir.mkdir(parents=True, exist_ok=True)
        recipe, _ = train(args, out_dir)
        write_text_atomic(out_dir / "train_recipe.json", json.dumps(recipe) + "\n")
    metrics = evaluate(args, out_dir, card_path)
    write_card(args, out_dir, card_path, metrics, {k: recipe[k] for k in recipe if k in (
        "train_seconds", "encoder_seconds", "encoder_cell_digit_accuracy", "encoder_final_loss", "final_loss",
        "loss_history", "setup_seconds", "vocab")})
    print(f"wrote {out_dir} and {card_path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EdgeRTError as e:
        print(f"train_vlm: {e}", file=sys.stderr)
        sys.exit(2)
