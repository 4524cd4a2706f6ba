#!/usr/bin/env python3
"""Train the SER CNN on RAVDESS speech (actors 1-16), validate on actors 17-20, export ONNX.

Example (from the repository root):
  python3 training/ser/train.py --data ../shared/data/ravdess/speech-16k --out Models --epochs 40 --seed 1 --head 256 --no-export

Reproducible: fixed seeds, torch.set_num_threads(1), deterministic data order and augmentation.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import soundfile as sf
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.signal import lfilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frontend  # noqa: E402

LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
CANON = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
CANON_MAP = {"neutral": "neutral", "calm": "neutral", "happy": "happy", "sad": "sad", "angry": "angry",
             "fearful": "fear", "disgust": "disgust", "surprised": "surprise"}
TRAIN_ACTORS = range(1, 17)
VAL_ACTORS = range(17, 21)


# ----------------------------------------------------------------------------- data
def parse_name(path):
    parts = os.path.basename(path).split(".")[0].split("-")
    return int(parts[2]) - 1, int(parts[6])  # label index 0..7, actor


def load_split(data, actors):
    xs, ys, paths = [], [], []
    for a in actors:
        for p in sorted(glob.glob(os.path.join(data, f"Actor_{a:02d}", "*.flac"))):
            x, sr = sf.read(p, dtype="float32")
            assert sr == frontend.SAMPLE_RATE and x.ndim == 1, p
            y, actor = parse_name(p)
            assert actor == a
            xs.append(x)
            ys.append(y)
            paths.append(os.path.relpath(p, data))
    return xs, np.array(ys, dtype=np.int64), paths


def augment_wave(x, rng, args):
    """Waveform augmentation: speed/pitch perturbation by resampling, gain, additive noise at random SNR."""
    if rng.random() < args.p_speed:
        r = rng.uniform(1.0 - args.speed, 1.0 + args.speed)
        t = np.arange(0, len(x) - 1, r)
        x = np.interp(t, np.arange(len(x)), x).astype(np.float32)
    x = x * np.float32(10.0 ** (rng.uniform(args.gain_lo, args.gain_hi) / 20.0))
    if rng.random() < args.p_noise:
        snr = rng.uniform(args.snr_lo, args.snr_hi)
        rms = math.sqrt(float(np.mean(x.astype(np.float64) ** 2)) + 1e-12)
        noise = rng.standard_normal(len(x)).astype(np.float32)
        if rng.random() < 0.5:  # low-pass coloured noise
            noise = lfilter([1.0], [1.0, -0.9], noise)
            noise = (noise / (noise.std() + 1e-9)).astype(np.float32)
        x = x + noise * np.float32(rms * 10.0 ** (-snr / 20.0))
    return x


def build_bank(xs, rng, args, log):
    """K log-mel variants per training clip: variant 0 clean, 1..K-1 waveform-augmented (computed once)."""
    t0 = time.time()
    bank = []
    for i, x in enumerate(xs):
        variants = []
        for k in range(args.bank):
            w = x if k == 0 else augment_wave(x, rng, args)
            lm, en = frontend.log_mel_and_energy(w)
            variants.append((lm.astype(np.float16), en.astype(np.float64)))
        bank.append(variants)
    log(f"feature bank: {len(xs)} clips x {args.bank} variants in {time.time() - t0:.1f}s")
    return bank


def augment_features(variants, rng, args):
    """Training features from a random bank variant: window choice, normalisation, SpecAugment. (64, 300)."""
    lm, en = variants[int(rng.integers(0, len(variants)))]
    lm = lm.astype(np.float32)
    n = lm.shape[0]
    start = None
    if n > frontend.FRAMES and rng.random() < args.p_randcrop:
        start = int(rng.integers(0, n - frontend.FRAMES + 1))
    win, _ = frontend.select_window(lm, en, start=start)
    f = frontend.normalise(win)
    for _ in range(2):  # SpecAugment
        w = int(rng.integers(0, args.fmask + 1))
        if w:
            s = int(rng.integers(0, 64 - w + 1))
            f[s:s + w, :] = 0.0
        w = int(rng.integers(0, args.tmask + 1))
        if w:
            s = int(rng.integers(0, 300 - w + 1))
            f[:, s:s + w] = 0.0
    return f


# ----------------------------------------------------------------------------- model
def cbr(i, o):
    return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]


ARCHITECTURE = ("widths", "reps", "head", "dropout")
"""The recipe arguments that decide a model's graph (everything else only changes its training)."""


def net_from_recipe(recipe, weights):
    """The SERNet a recipe (a run's args) describes, with the weights of the checkpoint `weights`, in eval mode."""
    model = SERNet(tuple(int(v) for v in recipe["widths"].split(",")), tuple(int(v) for v in recipe["reps"].split(",")),
                   recipe["dropout"], recipe.get("head", 0))
    model.load_state_dict(torch.load(weights))
    return model.eval()


class SERNet(nn.Module):
    """Plain VGG-style CNN: [conv-bn-relu (x reps) + maxpool2] per stage, global average pool, linear."""

    def __init__(self, widths=(16, 32, 64, 128), reps=(1, 1, 1, 1), dropout=0.3, head=0):
        super().__init__()
        layers, c = [], 1
        for w, r in zip(widths, reps):
            for _ in range(r):
                layers += cbr(c, w)
                c = w
            layers += [nn.MaxPool2d(2)]
        if head:  # collapse the remaining mel rows with a full-height conv (keeps band position), then pool time
            layers += [nn.Conv2d(c, head, (64 >> len(widths), 1), bias=False), nn.BatchNorm2d(head),
                       nn.ReLU(inplace=True)]
            c = head
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, 8))

    def forward(self, x):
        return self.head(self.features(x))


class Ensemble(nn.Module):
    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        out = self.members[0](x)
        for m in self.members[1:]:
            out = out + m(x)
        return out * (1.0 / len(self.members)) if len(self.members) > 1 else out


def count_macs(model):
    macs = 0

    def hook(m, i, o):
        nonlocal macs
        if isinstance(m, nn.Conv2d):
            macs += o.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            macs += m.in_features * m.out_features
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 64, 300))
    for h in hs:
        h.remove()
    return macs


# ----------------------------------------------------------------------------- metrics
def macro_f1(y, p, k):
    f1s = []
    for c in range(k):
        tp = np.sum((p == c) & (y == c))
        fp = np.sum((p == c) & (y != c))
        fn = np.sum((p != c) & (y == c))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


def confusion(y, p, k):
    m = np.zeros((k, k), dtype=np.int64)
    for a, b in zip(y, p):
        m[a, b] += 1
    return m


def evaluate(logits, y):
    """Both protocols. logits (n, 8) in LABELS order, y label indices."""
    logits = np.asarray(logits, dtype=np.float64)
    keep = y != 0
    y7 = y[keep] - 1
    p7 = logits[keep][:, 1:].argmax(1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    cmat = np.zeros((8, 7))
    for i, lab in enumerate(LABELS):
        cmat[i, CANON.index(CANON_MAP[lab])] = 1.0
    pc = (prob @ cmat).argmax(1)
    yc = np.array([CANON.index(CANON_MAP[LABELS[i]]) for i in y])
    return {
        "ravdess7": {"n": int(keep.sum()), "accuracy": float(np.mean(p7 == y7)), "macro_f1": macro_f1(y7, p7, 7),
                     "confusion": confusion(y7, p7, 7).tolist(), "classes": LABELS[1:]},
        "canonical": {"n": int(len(y)), "accuracy": float(np.mean(pc == yc)), "macro_f1": macro_f1(yc, pc, 7),
                      "confusion": confusion(yc, pc, 7).tolist(), "classes": CANON},
        "accuracy8": float(np.mean(logits.argmax(1) == y)),
    }


# ----------------------------------------------------------------------------- training
def predict(model, feats, bs=64):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), bs):
            out.append(model(torch.from_numpy(feats[i:i + bs][:, None])).numpy())
    return np.concatenate(out)


def train_member(seed, widths, reps, bank, y_tr, feats_va, y_va, args, log, init=None):
    """Trains one model (from the weights `init` when given: fine-tuning) and returns it with its history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SERNet(widths, reps, args.dropout, args.head)
    if init is not None:
        model.load_state_dict(init)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    steps_per_epoch = math.ceil(len(bank) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                pct_start=0.15)
    weight = None
    if args.balance:  # inverse class frequency (RAVDESS has half as many neutral takes)
        counts = np.bincount(y_tr, minlength=8).astype(np.float64)
        weight = torch.tensor(len(y_tr) / (8 * np.maximum(counts, 1)), dtype=torch.float32)
    hist = []
    for ep in range(args.epochs):
        t0 = time.time()
        model.train()
        order = rng.permutation(len(bank))
        feats = np.stack([augment_features(bank[i], rng, args) for i in order])
        labels = y_tr[order]
        tf = time.time() - t0
        tot, nb = 0.0, 0
        for b in range(steps_per_epoch):
            xb = torch.from_numpy(feats[b * args.batch:(b + 1) * args.batch][:, None])
            yb = torch.from_numpy(labels[b * args.batch:(b + 1) * args.batch])
            if args.mixup > 0:
                lam = float(rng.beta(args.mixup, args.mixup))
                perm = torch.from_numpy(rng.permutation(len(xb)))
                xb = lam * xb + (1 - lam) * xb[perm]
                out = model(xb)
                loss = lam * F.cross_entropy(out, yb, weight=weight, label_smoothing=args.smooth) + \
                    (1 - lam) * F.cross_entropy(out, yb[perm], weight=weight, label_smoothing=args.smooth)
            else:
                loss = F.cross_entropy(model(xb), yb, weight=weight, label_smoothing=args.smooth)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
            nb += 1
        if feats_va is None:  # final model on every actor: nothing held out to score
            hist.append({"epoch": ep + 1, "loss": tot / nb})
            log(f"seed {seed} ep {ep + 1:3d} loss {tot / nb:.4f} | {time.time() - t0:.1f}s (feat {tf:.1f}s)")
            continue
        m = evaluate(predict(model, feats_va), y_va)
        hist.append({"epoch": ep + 1, "loss": tot / nb, "r7": m["ravdess7"]["accuracy"],
                     "r7f1": m["ravdess7"]["macro_f1"], "can": m["canonical"]["accuracy"],
                     "canf1": m["canonical"]["macro_f1"], "acc8": m["accuracy8"]})
        log(f"seed {seed} ep {ep + 1:3d} loss {tot / nb:.4f} | val ravdess7 acc {m['ravdess7']['accuracy']:.4f} "
            f"f1 {m['ravdess7']['macro_f1']:.4f} | canonical acc {m['canonical']['accuracy']:.4f} "
            f"f1 {m['canonical']['macro_f1']:.4f} | acc8 {m['accuracy8']:.4f} | {time.time() - t0:.1f}s (feat {tf:.1f}s)")
    return model, hist


def export_onnx(model, path):
    import onnx
    from onnx import numpy_helper
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 64, 300), path, dynamo=False, opset_version=13,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True)
    # OpenCV 4.6 cannot parse Identity nodes on initialisers (the exporter emits them for de-duplicated
    # constants): replace each by a copy of the initialiser.
    g = onnx.load(path)
    inits = {i.name: i for i in g.graph.initializer}
    keep = []
    for node in g.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            t = numpy_helper.to_array(inits[node.input[0]])
            g.graph.initializer.append(numpy_helper.from_array(t.copy(), node.output[0]))
        else:
            keep.append(node)
    del g.graph.node[:]
    g.graph.node.extend(keep)
    ops = sorted({n.op_type for n in g.graph.node})
    assert "BatchNormalization" not in ops, ops
    onnx.checker.check_model(g)
    onnx.save(g, path)
    return ops


def add_recipe_arguments(ap, head):
    """The network, optimiser and augmentation options every SER training script takes."""
    ap.add_argument("--widths", default="16,32,64,128")
    ap.add_argument("--reps", default="1,1,1,1")
    ap.add_argument("--head", type=int, default=head, help="0: GAP head; >0: full-height conv with this many channels")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=1e-2)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--smooth", type=float, default=0.1)
    ap.add_argument("--mixup", type=float, default=0.0)
    ap.add_argument("--balance", action="store_true", help="weight the loss by inverse class frequency")
    ap.add_argument("--gain-lo", type=float, default=-6.0, help="waveform gain range, dB")
    ap.add_argument("--gain-hi", type=float, default=6.0)
    ap.add_argument("--p-speed", type=float, default=0.8)
    ap.add_argument("--speed", type=float, default=0.15)
    ap.add_argument("--p-noise", type=float, default=0.5)
    ap.add_argument("--snr-lo", type=float, default=5.0)
    ap.add_argument("--snr-hi", type=float, default=35.0)
    ap.add_argument("--p-randcrop", type=float, default=0.5)
    ap.add_argument("--fmask", type=int, default=8)
    ap.add_argument("--tmask", type=int, default=30)
    ap.add_argument("--bank", type=int, default=8, help="precomputed log-mel variants per training clip")


def open_log(run_dir):
    """A function that prints a line and appends it to <run_dir>/log.txt (made if missing)."""
    os.makedirs(run_dir, exist_ok=True)
    logf = open(os.path.join(run_dir, "log.txt"), "a")

    def log(s):
        print(s, flush=True)
        logf.write(s + "\n")
        logf.flush()
    return log


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--out", default="Models", help="folder for ser.onnx (card/fixture: see finalize.py)")
    ap.add_argument("--run-dir", default=None, help="default training/ser/runs/<name>")
    ap.add_argument("--name", default="run")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--members", type=int, default=1, help="ensemble size (seeds seed, seed+1, ...)")
    add_recipe_arguments(ap, head=0)
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(1)
    here = os.path.dirname(os.path.abspath(__file__))
    run_dir = args.run_dir or os.path.join(here, "runs", args.name)
    log = open_log(run_dir)
    log(f"args: {vars(args)}")
    t0 = time.time()
    xs_tr, y_tr, _ = load_split(args.data, TRAIN_ACTORS)
    xs_va, y_va, p_va = load_split(args.data, VAL_ACTORS)
    feats_va = np.stack([frontend.features(x) for x in xs_va])
    log(f"train {len(xs_tr)} clips (actors 1-16), val {len(xs_va)} clips (actors 17-20), load {time.time() - t0:.1f}s")

    widths = tuple(int(v) for v in args.widths.split(","))
    reps = tuple(int(v) for v in args.reps.split(","))
    bank = build_bank(xs_tr, np.random.default_rng(args.seed + 1000), args, log)
    del xs_tr
    members, hists = [], []
    for k in range(args.members):
        m, h = train_member(args.seed + k, widths, reps, bank, y_tr, feats_va, y_va, args, log)
        members.append(m)
        hists.append(h)
        torch.save(m.state_dict(), os.path.join(run_dir, f"member{k}.pt"))
    model = Ensemble(members).eval()
    logits = predict(model, feats_va)
    metrics = evaluate(logits, y_va)
    macs = count_macs(model)
    log(f"FINAL ({args.members} member(s), {macs / 1e6:.1f} M MACs): val ravdess7 acc {metrics['ravdess7']['accuracy']:.4f} "
        f"f1 {metrics['ravdess7']['macro_f1']:.4f} | canonical acc {metrics['canonical']['accuracy']:.4f} "
        f"f1 {metrics['canonical']['macro_f1']:.4f} | total {time.time() - t0:.0f}s")
    json.dump({"args": vars(args), "macs": macs, "metrics": metrics, "history": hists,
               "train_seconds": time.time() - t0}, open(os.path.join(run_dir, "result.json"), "w"), indent=1)
    np.savez(os.path.join(run_dir, "val.npz"), feats=feats_va, y=y_va, paths=np.array(p_va), torch_logits=logits)
    if not args.no_export:
        os.makedirs(args.out, exist_ok=True)
        onnx_path = os.path.join(args.out, "ser.onnx")
        ops = export_onnx(model, onnx_path)
        log(f"exported {onnx_path}; ops {ops}")


if __name__ == "__main__":
    main()
