"""Face crops of labelled RAVDESS-named video clips, made as the video worker makes them, for choosing models on video.

    python training/fer/clips.py --clips ../shared/data/ravdess/av --out training/fer/cache/clips.npz

Frames are sampled at `--fps` per second (default 10, the worker's), searched whole with the longer side at 640 (then
1280 when nothing is found), and the largest face is aligned (`faces.align`). As in the worker (`FaceSearch.searchSpacing`),
a frame sampled less than 0.15 s after the last search reuses that search's landmarks (every other frame at 10 fps).
The Swift worker also searches around the last face and follows tracks; on one-person clips both keep the same face,
so these crops stand for the served ones (`er-video-worker evaluate` gives the figures that the model card quotes).

Output: crops uint8 [N,48,48], clip int64 [N] (index into `paths`), time float32 [N] (seconds), and per clip its
path and canonical label (`labels`, LABELS order).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faces  # noqa: E402
from common import LABELS  # noqa: E402

# RAVDESS emotion codes (third field of the name) to canonical labels; calm counts as neutral.
RAVDESS = {1: "neutral", 2: "neutral", 3: "happy", 4: "sad", 5: "angry", 6: "fear", 7: "disgust", 8: "surprise"}


SEARCH_SPACING = 0.15  # FaceSearch.searchSpacing, seconds


def clip_crops(path: Path, detector: faces.YuNet, rate: float = 10.0):
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    crops, times, index, last_slot = [], [], 0, -1
    last_search, best = -np.inf, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        t = index / fps
        index += 1
        slot = int(t * rate)
        if slot == last_slot:
            continue
        last_slot = slot
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if best is None or t - last_search >= SEARCH_SPACING:
            last_search = t
            rows = np.zeros((0, 15))
            for search in (640, 1280):
                rows = detector.detect(gray, *faces.input_size(gray.shape[1], gray.shape[0], search))
                if len(rows):
                    break
            best = rows[np.argmax(rows[:, 2] * rows[:, 3])] if len(rows) else None
        if best is None:
            continue
        crops.append(faces.align(gray, best[5:15].reshape(5, 2)))
        times.append(t)
    return crops, times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", default="../shared/data/ravdess/av")
    ap.add_argument("--detector", default="Models/face_detection_yunet_2023mar.onnx")
    ap.add_argument("--out", default="training/fer/cache/clips.npz")
    ap.add_argument("--fps", type=float, default=10.0, help="frames sampled per second (the worker's default: 10)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    detector = faces.YuNet(args.detector)
    paths = sorted(p for p in Path(args.clips).rglob("*.mp4") if len(p.stem.split("-")) == 7)
    crops, clip, times, labels = [], [], [], []
    for i, path in enumerate(paths):
        c, t = clip_crops(path, detector, args.fps)
        crops += c
        times += t
        clip += [i] * len(c)
        labels.append(LABELS.index(RAVDESS[int(path.stem.split("-")[2])]))
        print(f"{path.name}: {len(c)} faces", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, crops=np.stack(crops), clip=np.array(clip, np.int64), time=np.array(times, np.float32),
                        paths=np.array([str(p) for p in paths]), labels=np.array(labels, np.int64))


if __name__ == "__main__":
    main()
