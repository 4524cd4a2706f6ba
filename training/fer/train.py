"""Train the face model on aligned crops: FER2013 Training (FER+ votes and original labels) and CK+ subjects.

From the repository root (after `prepare.py`, and `clips.py` for the video check):
    python training/fer/train.py --run-dir training/fer/runs/main                       # stage 1: FER+ votes
    python training/fer/train.py --run-dir training/fer/runs/posed --init training/fer/runs/main/best.pt \
        --heads 2 --ckplus-repeat 4 --epochs 10 --lr 0.02                                 # stage 2: two heads

Stage 1 (one head) learns the FER+ vote distributions. Stage 2 starts from it with two heads: `perceived` (FER+
votes; CK+ labels) and `intended` (FER2013's original labels, which keep the subtle sad, fear and angry faces FER+
moved to neutral; CK+ labels). CK+ subjects are split by subject (`--ckplus-fold` of 5); the held-out fold only
validates. Export folds a blend of the heads, chosen on video clips and CK+, into one head (`export.py --blend`).

Every epoch re-draws the augmentation: the alignment transform itself is jittered (rotation, scale, shift), so
training crops come from the serving procedure (`faces.warp`), then mirror, light, blur, compression, noise,
low resolution and occlusion, as video brings them. Loss: cross-entropy against the normalised FER+ votes over
the 7 canonical labels; images whose FER+ majority is contempt, unknown or not-a-face are left out.
Checkpoints every epoch (`last.pt`, resumable with --resume; `epoch-N.pt` with two heads, for the choice on video)
and the epoch with the best PublicTest FER+ majority accuracy (`best.pt`); a line per epoch in `log.jsonl` with
every validation figure (per head and blend with two heads: PublicTest on both label sets, CK+ held-out subjects,
the shared clips' faces by mean logits).
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


CKPLUS_FOLDS = 5
BLENDS = (1.0, 0.75, 0.5, 0.25, 0.0)  # weight of the perceived head; the intended head gets the rest


def load(cache: str):
    d = np.load(cache)
    out = {}
    for split in ("train", "public", "ckplus"):
        if f"{split}_images" not in d:
            continue
        marks = d[f"{split}_landmarks"].astype(np.float64)
        missing = np.isnan(marks).any(axis=(1, 2))
        marks[missing] = faces.TEMPLATE
        dist, majority = ferplus_targets(d[f"{split}_votes"])
        out[split] = dict(images=d[f"{split}_images"], marks=marks, dist=dist, majority=majority,
                          fer=d[f"{split}_fer"], found=d[f"{split}_found"])
        if split == "ckplus":
            out[split]["subject"] = d["ckplus_subject"]
    return out


def ckplus_fold(subjects: np.ndarray, fold: int) -> np.ndarray:
    """Whether each image's subject is in `fold` of CKPLUS_FOLDS (subjects sorted, every fifth one per fold)."""
    order = {s: i for i, s in enumerate(sorted(set(subjects.tolist())))}
    return np.array([order[s] % CKPLUS_FOLDS == fold for s in subjects.tolist()])


def load_clips(path: str):
    """The clip validation crops of `clips.py`, or None."""
    if not Path(path).exists():
        return None
    d = np.load(path)
    return dict(crops=d["crops"], clip=d["clip"], labels=d["labels"], time=d["time"])


def clip_accuracy(frame_logits: np.ndarray, clips: dict) -> float:
    """Accuracy of the clips' mean frame logits (the worker's `mean_logits`)."""
    right = 0
    for i, label in enumerate(clips["labels"]):
        rows = frame_logits[clips["clip"] == i]
        right += int(len(rows) > 0 and rows.mean(0).argmax() == label)
    return right / len(clips["labels"])


def init_from(model: FaceNet, path: str, images: np.ndarray):
    """Starts `model` from a stage-1 checkpoint (`.pt`) or an exported one-head model (`.onnx`, BatchNorm folded
    into the convolutions: the BatchNorm layers are rebuilt so that they compute the folded graph, with running
    statistics measured on `images`). Every head starts from the one head."""
    if path.endswith(".pt"):
        state = torch.load(path, map_location="cpu", weights_only=False)["model"]
    else:
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(path).graph
        weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
        convs = [n for n in graph.node if n.op_type == "Conv"]
        pairs = list(zip([m for m in model.features.modules() if isinstance(m, torch.nn.Conv2d)],
                         [m for m in model.features.modules() if isinstance(m, torch.nn.BatchNorm2d)]))
        assert len(pairs) == len(convs), "the ONNX graph does not have this architecture"
        for (conv, bn), node in zip(pairs, convs):
            conv.weight.data.copy_(weights[node.input[1]])
            bn.weight.data.fill_(1.0)
            bn.bias.data.copy_(weights[node.input[2]])
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        state = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
        state["head.weight"], state["head.bias"] = weights["head.weight"], weights["head.bias"]
    head_w, head_b = state.pop("head.weight"), state.pop("head.bias")
    state["head.weight"] = head_w.repeat(model.heads, 1)
    state["head.bias"] = head_b.repeat(model.heads)
    model.load_state_dict(state, strict=False)
    if path.endswith(".onnx"):  # running statistics of the folded graph, so that training starts where it ended
        bns = [m for m in model.features.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        stats = {}
        hooks = [bn.register_forward_hook(lambda mod, inp, out, k=k: stats.__setitem__(k, (
            inp[0].mean((0, 2, 3)), inp[0].var((0, 2, 3))))) for k, bn in enumerate(bns)]
        model.eval()
        with torch.no_grad():
            model(torch.from_numpy(normalize(images))[:, None])
        for h in hooks:
            h.remove()
        for k, bn in enumerate(bns):
            mean, var = stats[k]
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.data.copy_(torch.sqrt(var + bn.eps))
            bn.bias.data.add_(mean)


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
    if args.yaw > 0 and rng.random() < 0.5:  # a head turned a little: the face narrower about an off-centre line
        squeeze = 1.0 - rng.uniform(0, args.yaw)
        axis = c + rng.uniform(-4, 4)
        jitter = np.array([[squeeze, 0, axis * (1 - squeeze)], [0, 1, 0]]) @ np.vstack([jitter, [0, 0, 1]])
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
    if logits.ndim == 3:
        logits = logits[:, 0]
    pred = logits.argmax(1)
    usable = split["majority"] >= 0
    return {
        "ferplus_majority": metrics(split["majority"][usable], pred[usable]),
        "fer2013": metrics(split["fer"], pred),
    }


def evaluate_heads(model, public_crops, public, ck_crops, ck, clips) -> dict:
    """Every validation figure for every blend of the two heads (mirror-averaged logits)."""
    outputs = {"public": predict_logits(model, public_crops), "ckplus": predict_logits(model, ck_crops)}
    if clips is not None:
        outputs["clips"] = predict_logits(model, clips["crops"])
    usable = public["majority"] >= 0
    result = {}
    for blend in BLENDS:
        mix = {k: blend * v[:, 0] + (1 - blend) * v[:, 1] for k, v in outputs.items()}
        pred = mix["public"].argmax(1)
        figures = {"public_ferplus": float((pred[usable] == public["majority"][usable]).mean()),
                   "public_fer2013": float((pred == public["fer"]).mean()),
                   "ckplus_heldout": float((mix["ckplus"].argmax(1) == ck["fer"]).mean())}
        if clips is not None:
            figures["clips"] = clip_accuracy(mix["clips"], clips)
        result[f"{blend:g}"] = figures
    return result


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
    ap.add_argument("--yaw", type=float, default=0.0, help="largest horizontal squeeze (head turn), 0 = none")
    ap.add_argument("--heads", type=int, default=1, choices=(1, 2), help="2: perceived (FER+) and intended heads")
    ap.add_argument("--init", default="", help="start from this checkpoint (.pt) or exported model (.onnx)")
    ap.add_argument("--ckplus-repeat", type=int, default=0, help="times each CK+ training image is seen per epoch")
    ap.add_argument("--ckplus-fold", type=int, default=0, help="the CK+ subject fold held out for validation")
    ap.add_argument("--intended-smoothing", type=float, default=0.1, help="label smoothing of the intended head")
    ap.add_argument("--clips", default="training/fer/cache/clips.npz", help="clips.py output (video check)")
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
    public_crops = aligned(public)
    widths = tuple(int(w) for w in args.widths.split(","))
    model = FaceNet(widths, dropout=args.dropout, heads=args.heads)
    if args.heads == 1:  # FER+ votes only
        keep = np.nonzero(train["majority"] >= 0)[0]
        images, marks, perceived = train["images"], train["marks"], train["dist"]
    else:  # FER2013 images FER+ counts as faces (a row, not mostly not-a-face votes), and CK+ training subjects
        votes = np.load(args.cache)["train_votes"]
        is_face = (votes.sum(1) > 0) & (votes[:, 9] < 5)
        ck = data["ckplus"]
        ck_train = ~ckplus_fold(ck["subject"], args.ckplus_fold)
        ck_onehot = np.eye(7, dtype=np.float32)[ck["fer"][ck_train]]
        images = np.concatenate([train["images"], ck["images"][ck_train]])
        marks = np.concatenate([train["marks"], ck["marks"][ck_train]])
        perceived = np.concatenate([train["dist"], ck_onehot])
        has_perceived = np.concatenate([train["majority"] >= 0, np.ones(ck_train.sum(), bool)])
        smooth = args.intended_smoothing
        intended = np.concatenate([np.eye(7, dtype=np.float32)[train["fer"]], ck_onehot]) * (1 - smooth) + smooth / 7
        fer_rows = np.nonzero(is_face)[0]
        ck_rows = len(train["images"]) + np.arange(ck_train.sum())
        keep = np.concatenate([fer_rows] + [ck_rows] * args.ckplus_repeat)
    if data.get("ckplus") is not None:
        held_out = ckplus_fold(data["ckplus"]["subject"], args.ckplus_fold)
        ck_val = {k: v[held_out] for k, v in data["ckplus"].items()}
        ck_val_crops = aligned(ck_val)
    clips = load_clips(args.clips)
    if args.init:
        init_from(model, args.init, aligned({k: train[k][:2048] for k in ("images", "marks")}))
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
    if args.heads == 2:
        config["ckplus_train_images"] = int(ck_train.sum())
        config["ckplus_heldout_images"] = int(held_out.sum())
        config["ckplus_heldout_subjects"] = int(len(set(ck_val["subject"].tolist())))
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
            x = np.stack([augmented_crop(images[i], marks[i], rng, args) for i in idx])
            xb = torch.from_numpy(normalize(x))[:, None]
            out = model(xb)
            if args.heads == 1:
                loss = torch.sum(-torch.from_numpy(perceived[idx]) * F.log_softmax(out, 1), 1).mean()
            else:
                mask = torch.from_numpy(has_perceived[idx].astype(np.float32))
                first = torch.sum(-torch.from_numpy(perceived[idx]) * F.log_softmax(out[:, 0], 1), 1)
                second = torch.sum(-torch.from_numpy(intended[idx]) * F.log_softmax(out[:, 1], 1), 1)
                loss = (first * mask).sum() / mask.sum().clamp(min=1) + second.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item()
        seconds = time.time() - started
        result = evaluate(model, public_crops, public)
        accuracy = result["ferplus_majority"]["accuracy"]
        line = {"epoch": epoch, "loss": total_loss / max(1, step + 1), "seconds": round(seconds, 1),
                "public_ferplus_majority": accuracy, "public_fer2013": result["fer2013"]["accuracy"],
                "lr": schedule.get_last_lr()[0]}
        if args.heads == 2:
            line["blends"] = evaluate_heads(model, public_crops, public, ck_val_crops, ck_val, clips)
            torch.save({"model": model.state_dict(), "widths": widths, "heads": 2, "epoch": epoch,
                        "blends": line["blends"]}, run / f"epoch-{epoch}.pt")
        print(json.dumps(line), flush=True)
        with open(run / "log.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        if accuracy > best:
            best = accuracy
            torch.save({"model": model.state_dict(), "widths": widths, "heads": args.heads, "epoch": epoch,
                        "public": result}, run / "best.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                    "epoch": epoch, "best": best, "widths": widths}, run / "last.pt")
        if args.limit_steps:
            break


if __name__ == "__main__":
    main()
