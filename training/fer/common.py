"""Shared pieces for the FER model: architecture, preprocessing, data loading, metrics.

Preprocessing contract with the Swift side (must hold exactly):
  gray uint8 face crop -> cv2.resize(..., (64, 64), interpolation=cv2.INTER_LINEAR)
  -> float32 value = pixel * (2/255) - 1  -> tensor [1, 1, 64, 64]
Output: 7 logits in LABELS order (no softmax).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

# Output order of the model (the Keras model's order, kept for the Swift side).
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SIZE = 64
SCALE = 2.0 / 255.0
OFFSET = -1.0


# --------------------------------------------------------------------------- model
class SeparableConv(nn.Module):
    """Keras SeparableConv2D(k=3, padding='same', use_bias=False, depth_multiplier=1)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def bn(c: int) -> nn.BatchNorm2d:
    # Keras BatchNormalization(epsilon=1e-3, momentum=0.99) -> torch momentum 0.01
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class ResidualModule(nn.Module):
    """oarriaga mini_XCEPTION module.

    residual = BN(Conv1x1 stride 2 (x))
    x = BN(Sep(relu(BN(Sep(x)))))
    x = MaxPool3x3 stride 2 'same' (TensorFlow semantics) (x)
    out = x + residual   (no activation after the add)
    """

    def __init__(self, cin: int, cout: int, in_size: int):
        super().__init__()
        self.res_conv = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.res_bn = bn(cout)
        self.sep1 = SeparableConv(cin, cout)
        self.bn1 = bn(cout)
        self.relu = nn.ReLU()
        self.sep2 = SeparableConv(cout, cout)
        self.bn2 = bn(cout)
        # TF 'same' max pooling, k=3, s=2: total pad = max((ceil(n/2)-1)*2 + 3 - n, 0),
        # placed bottom/right first. Even n: pad (0, 1) == ceil_mode without padding.
        # Odd n: pad (1, 1) == symmetric padding 1.
        if in_size % 2 == 0:
            self.pool = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        else:
            self.pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=False)

    def forward(self, x):
        r = self.res_bn(self.res_conv(x))
        y = self.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        y = self.pool(y)
        return y + r


class MiniXception(nn.Module):
    """oarriaga/face_classification mini_XCEPTION, 64x64x1 input, 7 logits (softmax removed)."""

    def __init__(self, num_classes: int = 7, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)  # 'valid'
        self.bn1 = bn(8)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)  # 'valid'
        self.bn2 = bn(8)
        self.relu = nn.ReLU()
        # spatial sizes: 64 -> 62 -> 60 -> 30 -> 15 -> 8 -> 4
        self.block1 = ResidualModule(8, 16, 60)
        self.block2 = ResidualModule(16, 32, 30)
        self.block3 = ResidualModule(32, 64, 15)
        self.block4 = ResidualModule(64, 128, 8)
        # dropout is a training-only extra (identity in eval / ONNX)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Conv2d(128, num_classes, 3, padding=1, bias=True)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.block1(x)
        x = self.block2(x)
        x = self.block3(x)
        x = self.block4(x)
        x = self.dropout(x)
        x = self.head(x)
        return self.flatten(self.gap(x))


# ------------------------------------------------------------------ preprocessing
def resize64(gray_u8: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(gray_u8, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)


def normalize(u8: np.ndarray) -> np.ndarray:
    """uint8 [..., 64, 64] -> float32 in [-1, 1] exactly as the Swift side does."""
    return u8.astype(np.float32) * np.float32(SCALE) + np.float32(OFFSET)


# --------------------------------------------------------------------------- data
# folder name -> index in LABELS
def class_index(folder: str) -> int:
    return LABELS.index(folder)


def load_split(data_root: str | os.PathLike, split: str, cache_dir: str | os.PathLike | None = None):
    """Returns (x uint8 [N,64,64] already resized with INTER_LINEAR, y int64 [N], file list).

    Files are sorted per class folder so the order is deterministic.
    """
    import cv2

    root = Path(data_root) / split
    files, labels = [], []
    for folder in sorted(os.listdir(root)):
        if folder not in LABELS:
            continue
        for f in sorted(os.listdir(root / folder)):
            if f.lower().endswith((".jpg", ".jpeg", ".png")):
                files.append(f"{folder}/{f}")
                labels.append(class_index(folder))
    key = hashlib.sha1(("\n".join(files) + cv2.__version__).encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"{split}-{key}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        d = np.load(cache)
        return d["x"], d["y"], files
    x = np.empty((len(files), SIZE, SIZE), np.uint8)
    for i, f in enumerate(files):
        img = cv2.imread(str(root / f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise RuntimeError(f"cannot read {root / f}")
        x[i] = resize64(img)
    y = np.asarray(labels, np.int64)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=x, y=y)
    return x, y, files


# ------------------------------------------------------------------------ metrics
def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int = 7) -> np.ndarray:
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def metrics(y_true: np.ndarray, y_pred: np.ndarray, k: int = 7) -> dict:
    cm = confusion(y_true, y_pred, k)
    tp = np.diag(cm).astype(np.float64)
    recall = tp / np.maximum(cm.sum(1), 1)
    precision = tp / np.maximum(cm.sum(0), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(tp.sum() / len(y_true)),
        "macro_f1": float(f1.mean()),
        "recall": {LABELS[i]: float(recall[i]) for i in range(k)},
        "precision": {LABELS[i]: float(precision[i]) for i in range(k)},
        "f1": {LABELS[i]: float(f1[i]) for i in range(k)},
        "confusion": cm.tolist(),
    }


@torch.no_grad()
def predict_logits(model: nn.Module, x_u8: np.ndarray, batch: int = 512, hflip_tta: bool = False) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(x_u8), batch):
        xb = torch.from_numpy(normalize(x_u8[i : i + batch]))[:, None]
        lo = model(xb)
        if hflip_tta:
            lo = (lo + model(torch.flip(xb, dims=[3]))) / 2
        out.append(lo.numpy())
    return np.concatenate(out)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
