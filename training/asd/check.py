"""Writes the reference figures the Swift tests hold the served path to (train = serve for the speaker models).

    python training/asd/check.py [--shared ../shared] [--out Tests/AnalysisTests/Fixtures/asd-reference.json]

- MFCCs of a real take (`speech-16k`, FLAC: decoded losslessly by FFmpeg in Swift, so both sides start from the same
  samples), from `python_speech_features.mfcc` with the models' settings: the Swift front end must match them.
- Speaking scores of both weight files, from the PyTorch module with its original 3D convolutions (not the export),
  on a window of face crops cut from a real frame of a shared clip by the repository's crop (padded with grey 110,
  resized to 224, centre 112), moved a little each frame, with that take's MFCCs: the Swift path (its own crop,
  the ONNX files through OpenCV) must give the same scores.
"""

import argparse
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import python_speech_features
import soundfile
import torch

from light_asd import LightASD

ROOT = Path(__file__).resolve().parents[2]
SPEECH = "data/ravdess/speech-16k/Actor_01/03-01-01-01-01-01-01.flac"
CLIP = "data/ravdess/av/Actor_01/01-01-01-01-01-01-01.mp4"
FRAME_TIME = 1.5
# A face box in the frame (pixels: x, y, width, height), shifted by `step` pixels right per frame.
BOX = (520.0, 170.0, 240.0, 300.0)
STEP = 2.0
WINDOW = 50


def crop(frame, x, y, w, h):
    """The repository's crop (Columbia_test.py crop_video + evaluate_network), for one box."""
    bs = max(w, h) / 2
    cx, cy = x + w / 2, y + h / 2
    pad = int(bs * 1.8) + 1
    padded = np.pad(frame, ((pad, pad), (pad, pad)), "constant", constant_values=110)
    my, mx = cy + pad, cx + pad
    face = padded[int(my - bs):int(my + bs * 1.8), int(mx - bs * 1.4):int(mx + bs * 1.4)]
    return cv2.resize(face, (224, 224))[56:168, 56:168]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "Tests/AnalysisTests/Fixtures/asd-reference.json")
    args = parser.parse_args()
    samples, rate = soundfile.read(args.shared / SPEECH, dtype="int16")
    assert rate == 16000
    mfcc = python_speech_features.mfcc(samples, 16000, numcep=13, winlen=0.025, winstep=0.010)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(FRAME_TIME), "-i", str(args.shared / CLIP), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    frame = np.frombuffer(raw, np.uint8).reshape(720, 1280)
    cv2.imwrite("/tmp/asd-reference-frame.png", frame)
    crops = np.array([crop(frame, BOX[0] + STEP * t, *BOX[1:]) for t in range(WINDOW)])
    faces = ((torch.tensor(crops, dtype=torch.float32) / 255 - 0.4161) / 0.1688)[None, None]
    start = 100  # MFCC row of the window's first frame (1 s in, where the take speaks)
    audio = torch.tensor(mfcc[start:start + 4 * WINDOW], dtype=torch.float32).T[None, None]
    scores = {}
    for role, weights in (("rank", "finetuning_TalkSet.model"), ("presence", "pretrain_AVA_CVPR.model")):
        model = LightASD.load(args.shared / "models/light-asd" / weights)
        with torch.no_grad():
            scores[role] = [round(float(v), 5) for v in model(faces, audio).reshape(-1)]
    reference = {
        "speech": SPEECH, "mfcc_rows": [[round(float(v), 4) for v in row] for row in mfcc[:300]],
        "clip": CLIP, "frame_time": FRAME_TIME, "box": list(BOX), "step": STEP, "mfcc_start": start,
        "crop_first": crops[0].astype(int).ravel()[::97].tolist(), "crop_stride": 97,
        "scores": scores,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference) + "\n")
    print(f"wrote {args.out}: {len(reference['mfcc_rows'])} MFCC rows, {WINDOW} scores per model")


if __name__ == "__main__":
    main()
