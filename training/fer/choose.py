"""Chooses the epoch and served head of a two-head run on what is served: video clips first, then CK+ subjects.

    python training/fer/choose.py --run-dir training/fer/runs/posed [--min-ferplus 0.80]

For every `epoch-N.pt` and every blend of the heads (train.BLENDS) it prints PublicTest on both label sets (as
exported: one pass, no mirror averaging), CK+ held-out subjects and the clips (`clips.py` crops) by each frame
aggregation (the Swift `FrameAggregation` rules, mirrored here: mean logits, baseline departure, peak departure, apex).
The exported model keeps the perceived head as its vote head and serves a blend (`export.py`), so the choice is an
epoch and a served blend: among the epochs whose perceived head (blend 1) keeps PublicTest's FER+ majority accuracy
at `--min-ferplus` or more, the blends within `--clip-tolerance` clips of the best clip accuracy (by the better of
the aggregations; one clip of one actor is noise), then the best CK+ held-out accuracy, then FER2013's original
labels; the simplest aggregation among the best on the clips. Writes `choice.json` in the run folder.

With `--ckplus-heldout-dir DIR` it only links the held-out CK+ subjects' images into DIR (one folder per class),
for `er-video-worker evaluate-faces DIR`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LABELS, FaceNet, predict_logits  # noqa: E402
from train import aligned, ckplus_fold, load, load_clips  # noqa: E402

NEUTRAL = LABELS.index("neutral")
DEPARTURE_FLOOR = 0.05  # FrameAggregation.departureFloor
APEX_DURATION = 0.4  # FrameAggregation.apexDuration, seconds
ASSUMED_FRAME_RATE = 10.0  # FrameAggregation.assumedFrameRate: a clip of one frame


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def departures(logits: np.ndarray) -> np.ndarray:
    """FrameAggregation.departures: total variation from the mean probabilities of the most neutral third."""
    p = softmax(logits)
    rest = p[np.argsort(-p[:, NEUTRAL], kind="stable")[: max(1, (len(p) + 2) // 3)]]
    return 0.5 * np.abs(p - rest.mean(0)).sum(1)


def aggregate(logits: np.ndarray, method: str, times: np.ndarray) -> np.ndarray:
    """One clip's logits from its frames' (`times`: seconds, for the apex's frame count)."""
    if method == "mean_logits":
        return logits.mean(0)
    d = departures(logits)
    if method == "baseline_departure":
        w = d + DEPARTURE_FLOOR
        return (logits * w[:, None]).sum(0) / w.sum()
    if method == "apex":
        span = float(times.max() - times.min()) if len(times) > 1 else 0.0
        rate = (len(times) - 1) / span if span > 0 else ASSUMED_FRAME_RATE
        count = max(1, int(np.floor(APEX_DURATION * rate + 0.5)))  # Swift rounds halves away from zero
    else:
        count = max(1, (len(logits) + 2) // 3)
    return logits[np.argsort(-d, kind="stable")[:count]].mean(0)


METHODS = ("mean_logits", "baseline_departure", "peak_departure", "apex")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", default="training/fer/runs/posed")
    ap.add_argument("--clips", default="training/fer/cache/clips.npz")
    ap.add_argument("--min-ferplus", type=float, default=0.80)
    ap.add_argument("--clip-tolerance", type=int, default=1)
    ap.add_argument("--cache", default="training/fer/cache/faces.npz")
    ap.add_argument("--ckplus-heldout-dir", help="link the held-out CK+ subjects here and stop")
    ap.add_argument("--ckplus", default="../shared/data/ckplus48")
    ap.add_argument("--ckplus-fold", type=int, default=0)
    args = ap.parse_args()
    if args.ckplus_heldout_dir:
        paths = sorted(Path(args.ckplus).glob("*/*.png"))
        subjects = np.array([int(p.name.split("_")[0][1:]) for p in paths])
        for path, held in zip(paths, ckplus_fold(subjects, args.ckplus_fold)):
            if held:
                target = Path(args.ckplus_heldout_dir) / path.parent.name / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.unlink(missing_ok=True)
                target.symlink_to(path.resolve())
        return
    torch.set_num_threads(2)
    clips = load_clips(args.clips)
    public = load(args.cache)["public"]
    public_crops = aligned(public)
    usable = public["majority"] >= 0
    rows = []
    for path in sorted(Path(args.run_dir).glob("epoch-*.pt"), key=lambda p: int(p.stem.split("-")[1])):
        state = torch.load(path, map_location="cpu", weights_only=False)
        net = FaceNet(tuple(state["widths"]), heads=2)
        net.load_state_dict(state["model"])
        frame_logits = predict_logits(net, clips["crops"], flip=False)
        public_logits = predict_logits(net, public_crops, flip=False)
        for blend, figures in state["blends"].items():
            w = float(blend)
            mix = w * frame_logits[:, 0] + (1 - w) * frame_logits[:, 1]
            pred = (w * public_logits[:, 0] + (1 - w) * public_logits[:, 1]).argmax(1)
            figures = {**figures, "public_ferplus": float((pred[usable] == public["majority"][usable]).mean()),
                       "public_fer2013": float((pred == public["fer"]).mean())}
            by_method = {}
            for method in METHODS:
                right = [aggregate(mix[clips["clip"] == i], method, clips["time"][clips["clip"] == i]).argmax() == label
                         for i, label in enumerate(clips["labels"])]
                by_method[method] = float(np.mean(right))
            rows.append({"checkpoint": str(path), "epoch": state["epoch"], "blend": w, **figures, "clips_by_method": by_method})
    print(f"{'epoch':>5} {'blend':>5} {'FER+':>6} {'FER13':>6} {'CK+':>6} " + " ".join(f"{m:>18}" for m in METHODS))
    for r in rows:
        print(f"{r['epoch']:>5} {r['blend']:>5} {r['public_ferplus']:.4f} {r['public_fer2013']:.4f} {r['ckplus_heldout']:.4f} "
              + " ".join(f"{r['clips_by_method'][m]:>18.3f}" for m in METHODS))
    voting = {r["epoch"] for r in rows if r["blend"] == 1.0 and r["public_ferplus"] >= args.min_ferplus}
    eligible = [r for r in rows if r["epoch"] in voting] or rows
    top = max(max(r["clips_by_method"].values()) for r in eligible)
    near = [r for r in eligible if max(r["clips_by_method"].values()) >= top - args.clip_tolerance / len(clips["labels"]) - 1e-9]
    best = max(near, key=lambda r: (r["ckplus_heldout"], r["public_fer2013"]))
    best["aggregation"] = max(METHODS, key=lambda m: (best["clips_by_method"][m], -METHODS.index(m)))
    (Path(args.run_dir) / "choice.json").write_text(json.dumps({"choice": best, "candidates": rows}, indent=2))
    print("chosen:", json.dumps(best))


if __name__ == "__main__":
    main()
