"""Exports the active speaker models the worker serves and writes their card.

    python training/asd/export.py [--weights ../shared/models/light-asd] [--out Models]

Writes `asd-rank.onnx` (Light-ASD fine-tuned on TalkSet: which face speaks), `asd-presence.onnx` (Light-ASD
trained on AVA-ActiveSpeaker: whether the chosen face speaks at all) and `asd.json`, after checking each export
through OpenCV against the PyTorch module on random input."""

import argparse
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from light_asd import LightASD, ServedLightASD

WINDOW = 50  # video frames per forward pass (2 s at 25 frames/s)

FILES = {
    "rank": ("finetuning_TalkSet.model", "asd-rank.onnx"),
    "presence": ("pretrain_AVA_CVPR.model", "asd-presence.onnx"),
}


def export(weights: Path, onnx_path: Path) -> float:
    model = LightASD.load(weights)
    served = ServedLightASD(model).eval()
    torch.manual_seed(0)
    faces = torch.randn(WINDOW, 1, 112, 112)
    mfcc = torch.randn(1, 1, 13, 4 * WINDOW)
    torch.onnx.export(served, (faces, mfcc), str(onnx_path), input_names=["faces", "mfcc"], output_names=["score"],
                      opset_version=11, dynamo=False)
    with torch.no_grad():
        reference = model(faces.transpose(0, 1).unsqueeze(0), mfcc).numpy().reshape(-1)
    net = cv2.dnn.readNetFromONNX(str(onnx_path))
    net.setInput(faces.numpy(), "faces")
    net.setInput(mfcc.numpy(), "mfcc")
    return float(np.abs(net.forward().reshape(-1) - reference).max())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path, default=Path(__file__).resolve().parents[3] / "shared/models/light-asd")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "Models")
    args = parser.parse_args()
    card = {
        "schema": 1,
        "name": "light-asd-pair-v1",
        "task": "active_speaker",
        "models": {},
        "input": {
            "frame_rate": 25, "window": WINDOW, "crop_size": 112, "crop_scale": 0.40, "pad_value": 110,
            "pixel_mean": 0.4161, "pixel_std": 0.1688, "box_smoothing": 13,
            "sample_rate": 16000, "mfcc_count": 13, "mel_filters": 26, "fft_size": 512,
            "window_length": 400, "hop_length": 160, "preemphasis": 0.97, "lifter": 22,
        },
        "decision": {"presence_threshold": 1.0, "score_smoothing": 51},
        "licence": "MIT (Junhua-Liao/Light-ASD, light-asd.LICENSE)",
    }
    for role, (source, target) in FILES.items():
        gap = export(args.weights / source, args.out / target)
        digest = hashlib.sha256((args.out / target).read_bytes()).hexdigest()
        card["models"][role] = {"onnx": target, "sha256": digest, "weights": source, "opencv_vs_torch_max_abs": gap}
        print(f"{role}: {target} from {source}, OpenCV vs PyTorch max |diff| {gap:.2e}")
        assert gap < 1e-3, "the export does not reproduce the module"
    (args.out / "asd.json").write_text(json.dumps(card, indent=2) + "\n")
    (args.out / "light-asd.LICENSE").write_bytes((args.weights / "LICENSE").read_bytes())


if __name__ == "__main__":
    main()
