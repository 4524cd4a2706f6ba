"""Shared pieces for the FER model: architecture, labels, the input contract, FER+ targets, metrics.

Input contract with the Swift side (must hold exactly):
  aligned gray uint8 face crop, SIZE x SIZE (`faces.align`, the same procedure as `FaceAligner` in Swift)
  -> float32 value = pixel * (2/255) - 1 -> tensor [1, 1, SIZE, SIZE]
Output: 7 logits in LABELS order (no softmax).
"""
from __future__ import annotations

import hashlib
import os

import numpy as np
import torch
import torch.nn as nn

from faces import SIZE

# Output order of the model (canonical labels; the Swift side reads them from the card).
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SCALE = 2.0 / 255.0
OFFSET = -1.0
# FER+ vote columns (prepare.VOTE_COLUMNS order) that feed each LABELS entry.
FERPLUS_TO_LABEL = [4, 5, 6, 1, 3, 2, 0]  # anger, disgust, fear, happiness, sadness, surprise, neutral
FERPLUS_INVALID = [7, 8, 9]  # contempt, unknown, NF: no canonical label


def conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut (ResNet's basic block)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(x + y)


class FaceNet(nn.Module):
    """Small ResNet for 48x48 gray faces: stem at 48, then a strided conv and a basic block at 24, 12 and 6.

    With `heads` > 1 the last layer gives `heads` sets of logits, [N, heads, classes] (for training on several
    label sets at once); `blended_head` folds them into one linear head, `stacked_heads` into one layer giving
    several (blended) heads side by side, for export.
    """

    def __init__(self, widths=(32, 48, 96, 192), num_classes: int = 7, dropout: float = 0.3, heads: int = 1):
        super().__init__()
        self.heads = heads
        self.num_classes = num_classes
        layers = [conv_bn(1, widths[0])]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [conv_bn(cin, cout, 2), BasicBlock(cout)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], num_classes * heads)

    def forward(self, x):
        out = self.head(self.dropout(self.flatten(self.pool(self.features(x)))))
        return out if self.heads == 1 else out.view(-1, self.heads, self.num_classes)

    def blended_head(self, weights) -> "FaceNet":
        """A one-head copy whose logits are `sum_k weights[k] * logits_k` (a weighted sum of linear heads is linear)."""
        return self.stacked_heads([weights])

    def stacked_heads(self, rows) -> "FaceNet":
        """A copy with one linear layer giving `len(rows)` blocks of logits side by side, [N, len(rows) * classes]:
        block r is `sum_k rows[r][k] * logits_k` (export of several heads, each possibly a blend, as one output)."""
        single = FaceNet(self.widths(), self.num_classes * len(rows), self.dropout.p, heads=1)
        single.load_state_dict({k: v for k, v in self.state_dict().items() if not k.startswith("head.")}, strict=False)
        weight = self.head.weight.data.view(self.heads, self.num_classes, -1)
        bias = self.head.bias.data.view(self.heads, self.num_classes)
        w = torch.as_tensor(rows, dtype=torch.float32)  # [blocks, heads]
        single.head.weight.data.copy_(torch.einsum("rh,hcf->rcf", w, weight).reshape(-1, weight.shape[-1]))
        single.head.bias.data.copy_(torch.einsum("rh,hc->rc", w, bias).reshape(-1))
        return single

    def widths(self) -> tuple[int, ...]:
        convs = [m for m in self.features.modules() if isinstance(m, nn.Conv2d)]
        stem, strided = convs[0], [c for c in convs if c.stride == (2, 2)]
        return (stem.out_channels, *[c.out_channels for c in strided])


def normalize(u8: np.ndarray) -> np.ndarray:
    """uint8 [..., SIZE, SIZE] -> float32 in [-1, 1] exactly as the Swift side does."""
    return u8.astype(np.float32) * np.float32(SCALE) + np.float32(OFFSET)


def ferplus_targets(votes: np.ndarray):
    """(distribution [N,7] over LABELS, majority label [N] or -1 where FER+ has no usable majority).

    Usable: the most-voted of the 10 FER+ columns is one of the 7 canonical ones (not contempt, unknown or NF).
    """
    seven = votes[:, FERPLUS_TO_LABEL]
    total = seven.sum(1, keepdims=True)
    dist = np.where(total > 0, seven / np.maximum(total, 1), 0).astype(np.float32)
    usable = (votes.sum(1) > 0) & (votes[:, FERPLUS_INVALID].max(1) < seven.max(1))
    majority = np.where(usable, seven.argmax(1), -1)
    return dist, majority


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
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "macro_f1": float(f1.mean()),
        "recall": {LABELS[i]: float(recall[i]) for i in range(k)},
        "confusion": cm.tolist(),
    }


@torch.no_grad()
def predict_logits(model: nn.Module, x_u8: np.ndarray, batch: int = 512, flip: bool = True) -> np.ndarray:
    """Logits for aligned uint8 crops; `flip` averages with the mirrored crop (as the exported graph does)."""
    model.eval()
    out = []
    for i in range(0, len(x_u8), batch):
        xb = torch.from_numpy(normalize(x_u8[i : i + batch]))[:, None]
        lo = model(xb)
        if flip:
            lo = (lo + model(torch.flip(xb, dims=[3]))) / 2
        out.append(lo.numpy())
    return np.concatenate(out)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
