"""Face detection (YuNet through cv2.dnn) and landmark alignment: the one definition shared with serving.

The Swift side (`Sources/Vision/FaceAligner.swift`, `Sources/CVBridge/CVBridge.cpp`) implements the same steps;
`Tests/VisionTests/FaceAlignmentTests.swift` checks both agree on real frames.

Detection (YuNet 2023mar, anchor-free): the gray image is replicated to 3 channels, resized to the network's
input size (multiples of 32) with INTER_AREA when shrinking and INTER_LINEAR when growing, fed unscaled (0-255).
Each of the strides 8, 16, 32 gives per cell `cls`, `obj`, `bbox` (4) and `kps` (10); score = sqrt(cls * obj)
(both clamped to [0, 1]); box centre ((c + b0) * S, (r + b1) * S), size (exp(b2) * S, exp(b3) * S); landmark k
((c + k[2k]) * S, (r + k[2k+1]) * S). Boxes above the score threshold go through NMS (IoU 0.3).

Alignment: the similarity transform (rotation, uniform scale, shift; no reflection) that maps the five landmarks
onto `TEMPLATE` in least squares (Umeyama), applied as:
  1. if the transform shrinks (scale s < 1): crop the source region that lands in the output (plus 2 px), resize
     that crop by s with INTER_AREA to round(w * s) x round(h * s), and fold crop and resize into the transform;
  2. cv2.warpAffine(INTER_LINEAR, BORDER_REPLICATE) to SIZE x SIZE.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

# Output crop size and the five landmark positions in it (right eye, left eye, nose, right and left mouth corner,
# image-left first). Measured as the mean YuNet landmarks over the FER2013 Training images where YuNet finds a face
# (`prepare.py` prints them), so aligned crops keep FER2013's framing; mirror-symmetrised about x = 23.5 (the
# centre of pixel columns 0..47) so that a mirrored crop is the crop of the mirrored face; rounded to 0.01 px.
SIZE = 48
TEMPLATE = np.array([
    [14.40, 18.18],
    [32.60, 18.18],
    [23.50, 28.00],
    [16.08, 36.65],
    [30.92, 36.65],
], dtype=np.float64)

SCORE_THRESHOLD = 0.6
NMS_THRESHOLD = 0.3
STRIDES = (8, 16, 32)


def input_size(width: int, height: int, search_size: int) -> tuple[int, int]:
    """The detector's input size for a `width` x `height` image searched with its longer side at `search_size`:
    aspect kept, both sides rounded (half up) to multiples of 32, at least 32 (as `FaceDetector.inputSize`)."""
    scale = search_size / max(width, height, 1)
    return tuple(max(32, int(math.floor(v * scale / 32 + 0.5)) * 32) for v in (width, height))


class YuNet:
    """YuNet face detector run with cv2.dnn (OpenCV 4.6's FaceDetectorYN cannot load the 2023mar file)."""

    def __init__(self, onnx_path: str):
        self.net = cv2.dnn.readNetFromONNX(onnx_path)
        self.names = [f"{kind}_{s}" for s in STRIDES for kind in ("cls", "obj", "bbox", "kps")]

    def detect(self, gray: np.ndarray, input_w: int, input_h: int, threshold: float = SCORE_THRESHOLD):
        """Faces in `gray` as rows (x, y, w, h, score, 10 landmark coordinates), in `gray`'s pixel coordinates."""
        h, w = gray.shape
        shrink = input_w < w or input_h < h
        resized = cv2.resize(gray, (input_w, input_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        bgr = cv2.merge([resized, resized, resized])
        blob = bgr.astype(np.float32).transpose(2, 0, 1)[None]
        self.net.setInput(np.ascontiguousarray(blob))
        outputs = dict(zip(self.names, self.net.forward(self.names)))
        rows = []
        for s in STRIDES:
            cols = input_w // s
            cls = np.clip(outputs[f"cls_{s}"].reshape(-1), 0, 1)
            obj = np.clip(outputs[f"obj_{s}"].reshape(-1), 0, 1)
            score = np.sqrt(cls * obj)
            keep = np.nonzero(score >= threshold)[0]
            if keep.size == 0:
                continue
            bbox = outputs[f"bbox_{s}"].reshape(-1, 4)[keep]
            kps = outputs[f"kps_{s}"].reshape(-1, 10)[keep]
            r = (keep // cols).astype(np.float64)
            c = (keep % cols).astype(np.float64)
            cx = (c + bbox[:, 0]) * s
            cy = (r + bbox[:, 1]) * s
            bw = np.exp(bbox[:, 2]) * s
            bh = np.exp(bbox[:, 3]) * s
            marks = np.empty((keep.size, 10))
            marks[:, 0::2] = (c[:, None] + kps[:, 0::2]) * s
            marks[:, 1::2] = (r[:, None] + kps[:, 1::2]) * s
            for i in range(keep.size):
                rows.append([cx[i] - bw[i] / 2, cy[i] - bh[i] / 2, bw[i], bh[i], score[keep[i]], *marks[i]])
        if not rows:
            return np.zeros((0, 15))
        rows = np.array(rows)
        order = nms(rows[:, :4], rows[:, 4], NMS_THRESHOLD)
        rows = rows[order]
        sx, sy = w / input_w, h / input_h
        rows[:, [0, 2, 5, 7, 9, 11, 13]] *= sx
        rows[:, [1, 3, 6, 8, 10, 12, 14]] *= sy
        return rows


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression, highest score first."""
    order = list(np.argsort(-scores, kind="stable"))
    kept = []
    while order:
        i = order.pop(0)
        kept.append(i)
        rest = []
        for j in order:
            if box_iou(boxes[i], boxes[j]) <= iou:
                rest.append(j)
        order = rest
    return kept


def box_iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def similarity(landmarks: np.ndarray, template: np.ndarray = TEMPLATE) -> np.ndarray:
    """2x3 similarity transform mapping `landmarks` (5x2) onto `template` in least squares (Umeyama, no reflection)."""
    src = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    dst = np.asarray(template, dtype=np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    s, d = src - src_mean, dst - dst_mean
    # For 2D similarity: a = sum(s.d) / |s|^2, b = sum(s x d) / |s|^2 (rotation+scale as a complex number).
    norm = float((s * s).sum())
    a = float((s[:, 0] * d[:, 0] + s[:, 1] * d[:, 1]).sum()) / norm
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm
    tx = dst_mean[0] - (a * src_mean[0] - b * src_mean[1])
    ty = dst_mean[1] - (b * src_mean[0] + a * src_mean[1])
    return np.array([[a, -b, tx], [b, a, ty]], dtype=np.float64)


def warp(gray: np.ndarray, matrix: np.ndarray, size: int = SIZE) -> np.ndarray:
    """The aligned `size` x `size` crop of `gray` under `matrix` (source -> output), as the module doc describes."""
    m = np.asarray(matrix, dtype=np.float64)
    scale = math.hypot(m[0, 0], m[1, 0])
    source = gray
    if scale < 1.0:
        inverse = cv2.invertAffineTransform(m)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64)
        points = corners @ inverse.T
        h, w = gray.shape
        x0 = max(0, int(math.floor(points[:, 0].min())) - 2)
        y0 = max(0, int(math.floor(points[:, 1].min())) - 2)
        x1 = min(w, int(math.ceil(points[:, 0].max())) + 2)
        y1 = min(h, int(math.ceil(points[:, 1].max())) + 2)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            crop = gray[y0:y1, x0:x1]
            cw = max(1, int(round((x1 - x0) * scale)))
            ch = max(1, int(round((y1 - y0) * scale)))
            source = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA)
            fx, fy = cw / (x1 - x0), ch / (y1 - y0)
            # output = m * (p_crop / f + offset): fold the crop offset and resize factors into the transform.
            m = np.array([
                [m[0, 0] / fx, m[0, 1] / fy, m[0, 0] * x0 + m[0, 1] * y0 + m[0, 2]],
                [m[1, 0] / fx, m[1, 1] / fy, m[1, 0] * x0 + m[1, 1] * y0 + m[1, 2]],
            ])
    return cv2.warpAffine(source, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align(gray: np.ndarray, landmarks: np.ndarray, size: int = SIZE) -> np.ndarray:
    """The aligned crop for a face with these five landmarks."""
    return warp(gray, similarity(landmarks, TEMPLATE * (size / SIZE)), size)
