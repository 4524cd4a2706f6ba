#!/usr/bin/env python3
"""Run the exported ONNX with OpenCV's dnn module (target: OpenCV 4.6, 1 thread).

Usage: python cv2_check.py MODEL.onnx INPUTS.npy OUT.npz
Reads (n, 64, 300) float32 inputs, writes logits (n, 8) and single-clip latency samples (ms).
Needs opencv-python-headless==4.6.0.66, which needs numpy<2 (use a separate venv, see README.md).
"""
import sys
import time

import cv2
import numpy as np

cv2.setNumThreads(1)
model, inp, out = sys.argv[1:4]
net = cv2.dnn.readNetFromONNX(model)
net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
x = np.load(inp).astype(np.float32)
logits = []
for i in range(len(x)):
    net.setInput(x[i][None, None])
    logits.append(net.forward().reshape(-1).copy())
logits = np.stack(logits)
lat = []
for i in range(100):
    xi = x[i % len(x)][None, None]
    t = time.perf_counter()
    net.setInput(xi)
    net.forward()
    lat.append((time.perf_counter() - t) * 1000.0)
np.savez(out, logits=logits, latency_ms=np.array(lat), version=cv2.__version__)
print(f"opencv {cv2.__version__}: {len(x)} inputs, latency median {np.median(lat):.2f} ms, p90 {np.percentile(lat, 90):.2f} ms")
