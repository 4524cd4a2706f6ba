"""Runs YuNet on every FER2013 Training and PublicTest image and every CK+48 image; caches images, landmarks, labels.

FER2013 faces are tight 48x48 crops, too small and too tightly framed for a detector: each is padded by half its
size with mid-gray (128) on every side (96x96) and searched at 288x288 (3x). The largest face's landmarks, mapped
back to the 48x48 image, are stored; images where YuNet finds no face get NaN landmarks (training then uses the
template: no change of framing). Prints the mean landmarks of the Training detections, from which `faces.TEMPLATE` was set (mirror-
symmetrised about the crop's vertical centre line).

CK+48 crops (posed peak frames, 48x48 like FER2013) go through the same padding and search.

Output: `cache/faces.npz` with, per split (`train_*`, `public_*`, `ckplus_*`): images uint8 [N,48,48], landmarks
float32 [N,5,2], found bool [N], score float32 [N], label int64 [N] (LABELS order; `*_fer`), FER+ votes float32
[N,10] (`VOTE_COLUMNS` order; all zero for an image without a FER+ row, so for every CK+ image), paths; and
`ckplus_subject` int64 [N] (the CK+ subject number, from the file name `S010_006_00000013.png`).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

import faces
from common import LABELS

VOTE_COLUMNS = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF"]
PAD = 24
UPSCALE = 3

_detector = None


def _init(model: str):
    global _detector
    cv2.setNumThreads(1)
    _detector = faces.YuNet(model)


def detect_one(path: str):
    gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if gray is None or gray.shape != (48, 48):
        raise RuntimeError(f"{path}: not a 48x48 image")
    canvas = cv2.copyMakeBorder(gray, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=128)
    side = canvas.shape[0] * UPSCALE
    rows = _detector.detect(canvas, side, side)
    if len(rows) == 0:
        return gray, None, 0.0
    best = rows[np.argmax(rows[:, 2] * rows[:, 3])]
    return gray, best[5:15].reshape(5, 2) - PAD, float(best[4])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/fer2013")
    ap.add_argument("--ckplus", default="../shared/data/ckplus48")
    ap.add_argument("--detector", default="Models/face_detection_yunet_2023mar.onnx")
    ap.add_argument("--out", default="training/fer/cache/faces.npz")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    root = Path(args.data)
    votes = {}
    with open(root / "ferplus_votes.csv") as f:
        for row in csv.DictReader(f):
            votes[row["path"]] = np.array([float(row[c]) for c in VOTE_COLUMNS], np.float32)
    result = {}
    report = {}
    for split, base, folder in (("train", root, "train"), ("public", root, "public_test"),
                                ("ckplus", Path(args.ckplus).parent, Path(args.ckplus).name)):
        paths = []
        for label in sorted(os.listdir(base / folder)):
            if label in LABELS:
                paths += [f"{folder}/{label}/{name}" for name in sorted(os.listdir(base / folder / label))]
        with Pool(args.workers, initializer=_init, initargs=(args.detector,)) as pool:
            detections = pool.map(detect_one, [str(base / p) for p in paths], chunksize=64)
        found = np.array([d[1] is not None for d in detections])
        marks = np.array([d[1] if d[1] is not None else np.full((5, 2), np.nan) for d in detections], np.float32)
        result[f"{split}_images"] = np.stack([d[0] for d in detections])
        result[f"{split}_landmarks"] = marks
        result[f"{split}_found"] = found
        result[f"{split}_score"] = np.array([d[2] for d in detections], np.float32)
        result[f"{split}_fer"] = np.array([LABELS.index(p.split("/")[1]) for p in paths], np.int64)
        result[f"{split}_votes"] = np.stack([votes.get(p, np.zeros(10, np.float32)) for p in paths])
        result[f"{split}_paths"] = np.array(paths)
        if split == "ckplus":
            result["ckplus_subject"] = np.array([int(Path(p).name.split("_")[0][1:]) for p in paths], np.int64)
        report[split] = {"images": len(paths), "found": int(found.sum()), "found_share": float(found.mean()),
                         "mean_landmarks": marks[found].mean(0).round(2).tolist()}
        print(split, json.dumps(report[split]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **result)
    Path(args.out).with_suffix(".json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
