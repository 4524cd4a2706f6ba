"""Train the face model on FER2013 Training with FER+ vote distributions, on aligned crops; choose on PublicTest.

From the repository root (after `prepare.py`):
    python training/fer/train.py --run-dir training/fer/runs/main

Every epoch re-draws the augmentation: the alignment transform itself is jittered (rotation, scale, shift), so
training crops come from the serving procedure (`faces.warp`), then mirror, light, blur, compression, noise,
low resolution and occlusion, as video brings them. Loss: cross-entropy against the normalised FER+ votes over
the 7 canonical labels; images whose FER+ majority is contempt, unknown or not-a-face are left out.
Checkpoints every epoch (`last.pt`, resumable with --resume) and the epoch with the best PublicTest FER+ majority
accuracy (`best.pt`); a line per epoch in `log.jsonl`.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faces  # noqa: E402
from common import FaceNet, ferplus_targets, metrics, normalize, predict_logits  # noqa: E402


def load(cache: str):
    d = np.load(cache)
    out = {}
    for split in ("train", "public"):
        marks = d[f"{split}_landmarks"].astype(np.float64)
        missing = np.isnan(marks).any(axis=(1, 2))
        marks[missing] = faces.TEMPLATE
        dist, majority = ferplus_targets(d[f"{split}_votes"])
        out[split] = dict(images=d[f"{split}_images"], marks=marks, dist=dist, majority=majority,
                          fer=d[f"{split}_fer"], found=d[f"{split}_found"])
    return out


def aligned(split: dict) -> np.ndarray:
    """The serving crops (no augmentation)."""
    return np.stack([faces.align(img, m) for img, m in zip(split["images"], split["marks"])])


def augmented_crop(img: np.ndarray, marks: np.ndarray, rng: np.random.Generator, args) -> np.ndarray:
    m = faces.similarity(marks)
    angle = math.radians(rng.uniform(-args.rotate, args.rotate))
    scale = math.exp(rng.uniform(-args.zoom, args.zoom))
    shift = rng.uniform(-args.shift, args.shift, 2)
    c = (faces.SIZE - 1) / 2
    ca, sa = math.cos(angle) * scale, math.sin(angle) * scale
    jitter = np.array([[ca, -sa, c - ca * c + sa * c + shift[0]], [sa, ca, c - sa * c - ca * c + shift[1]]])
    m = np.hstack([jitter[:, :2] @ m[:, :2], jitter[:, :2] @ m[:, 2:] + jitter[:, 2:]])
    crop = faces.warp(img, m)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    x = crop.astype(np.float32)
    if rng.random() < args.p_light:  # exposure, contrast and gamma (dim rooms, backlight)
        gamma = math.exp(rng.uniform(-0.5, 0.7))
        x = 255.0 * (x / 255.0) ** gamma
        x = (x - x.mean()) * rng.uniform(0.6, 1.3) + x.mean() + rng.uniform(-25, 25)
    x = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < args.p_blur:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.3))
    if rng.random() < args.p_lowres:  # a small face upsampled to the crop
        side = int(rng.integers(14, 32))
        x = cv2.resize(cv2.resize(x, (side, side), interpolation=cv2.INTER_AREA), (faces.SIZE, faces.SIZE),
                       interpolation=cv2.INTER_LINEAR)
    if rng.random() < args.p_jpeg:
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 60))])
        x = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    x = x.astype(np.float32)
    if rng.random() < args.p_noise:
        x += rng.normal(0, rng.uniform(2, 10), x.shape)
    if rng.random() < args.p_erase:  # partial occlusion: a hand, a microphone, a caption
        h = int(rng.integers(8, 24))
        w = int(rng.integers(8, 24))
        y0 = int(rng.integers(0, faces.SIZE - h))
        x0 = int(rng.integers(0, faces.SIZE - w))
        x[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 255)
    return np.clip(x, 0, 255).astype(np.uint8)


def evaluate(model, crops: np.ndarray, split: dict) -> dict:
    logits = predict_logits(model, crops)
    pred = logits.argmax(1)
    usable = split["majority"] >= 0
    return {
        "ferplus_majority": metrics(split["majority"][usable], pred[usable]),
        "fer2013": metrics(split["fer"], pred),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="training/fer/cache/faces.npz")
    ap.add_argument("--run-dir", default="training/fer/runs/main")
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--widths", default="32,48,96,192")
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--rotate", type=float, default=12)
    ap.add_argument("--zoom", type=float, default=0.12)
    ap.add_argument("--shift", type=float, default=2.5)
    ap.add_argument("--p-light", type=float, default=0.6)
    ap.add_argument("--p-blur", type=float, default=0.25)
    ap.add_argument("--p-lowres", type=float, default=0.2)
    ap.add_argument("--p-jpeg", type=float, default=0.25)
    ap.add_argument("--p-noise", type=float, default=0.2)
    ap.add_argument("--p-erase", type=float, default=0.25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit-steps", type=int, default=0, help="stop each epoch after this many steps (timing)")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    torch.manual_seed(args.seed)
    run = Path(args.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    data = load(args.cache)
    train, public = data["train"], data["public"]
    keep = np.nonzero(train["majority"] >= 0)[0]
    public_crops = aligned(public)
    widths = tuple(int(w) for w in args.widths.split(","))
    model = FaceNet(widths, dropout=args.dropout)
    steps_per_epoch = len(keep) // args.batch
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                                                   pct_start=0.15, div_factor=20, final_div_factor=200)
    start_epoch, best = 0, -1.0
    if args.resume and (run / "last.pt").exists():
        state = torch.load(run / "last.pt", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start_epoch, best = state["epoch"] + 1, state["best"]
    config = {k: v for k, v in vars(args).items()}
    config["train_images"] = int(len(keep))
    (run / "config.json").write_text(json.dumps(config, indent=2))
    for epoch in range(start_epoch, args.epochs):
        rng = np.random.default_rng(args.seed * 1000 + epoch)
        order = rng.permutation(keep)
        started = time.time()
        model.train()
        total_loss = 0.0
        for step in range(steps_per_epoch):
            if args.limit_steps and step >= args.limit_steps:
                break
            idx = order[step * args.batch:(step + 1) * args.batch]
            x = np.stack([augmented_crop(train["images"][i], train["marks"][i], rng, args) for i in idx])
            xb = torch.from_numpy(normalize(x))[:, None]
            target = torch.from_numpy(train["dist"][idx])
            loss = torch.sum(-target * F.log_softmax(model(xb), 1), 1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += float(loss)
        seconds = time.time() - started
        result = evaluate(model, public_crops, public)
        accuracy = result["ferplus_majority"]["accuracy"]
        line = {"epoch": epoch, "loss": total_loss / max(1, step + 1), "seconds": round(seconds, 1),
                "public_ferplus_majority": accuracy, "public_fer2013": result["fer2013"]["accuracy"],
                "lr": schedule.get_last_lr()[0]}
        print(json.dumps(line), flush=True)
        with open(run / "log.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        if accuracy > best:
            best = accuracy
            torch.save({"model": model.state_dict(), "widths": widths, "epoch": epoch, "public": result},
                       run / "best.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                    "epoch": epoch, "best": best, "widths": widths}, run / "last.pt")
        if args.limit_steps:
            break


if __name__ == "__main__":
    main()
