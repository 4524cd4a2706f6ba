"""Export a checkpoint to Models/fer.onnx + Models/fer.json, verify it with OpenCV's dnn module, write the fixture.

    python training/fer/export.py --ckpt training/fer/runs/main/best.pt --out Models [--flip]
    python training/fer/export.py --choice training/fer/runs/posed/choice.json --out Models   # a two-head run

- A two-head checkpoint is exported as one head, `blend * perceived + (1 - blend) * intended` folded into the last
  layer (`FaceNet.blended_head`); `--choice` takes the checkpoint, blend and frame aggregation `choose.py` chose.

- torch.onnx.export(dynamo=False, opset 13), input [1,1,48,48] "input", output "logits" (7, LABELS order).
- `--flip` bakes mirror averaging into the graph, `(net(x) + net(flip(x))) / 2`, the flip written as Transpose +
  fixed 1x1 Conv + Transpose (OpenCV 4.6 has no reliable negative-step Slice).
- Loads the ONNX with cv2.dnn (OpenCV 4.6, as the Swift side), compares with torch on PublicTest crops, measures the
  latency per face on one thread, and scores the ONNX on all of PublicTest: FER+ majority and FER2013 labels.
- Writes `Models/fer.json` (keeps an existing `temperature` and `fusion_weight`, which `training/fusion/fit.py` sets) and
  `training/fer/runs/export_report.json`; with --fixture, the train = serve fixture for the Swift tests.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faces  # noqa: E402
from common import LABELS, OFFSET, SCALE, FaceNet, metrics, normalize, predict_logits, sha256_file  # noqa: E402
from train import aligned, ckplus_fold, load  # noqa: E402

NAME = "fer-resnet48-posed-v3"


class FlipW(nn.Module):
    """Horizontal flip of [B,1,H,W] with ops OpenCV 4.6 imports: Transpose + fixed anti-identity 1x1 Conv + Transpose."""

    def __init__(self, w: int = faces.SIZE):
        super().__init__()
        self.conv = nn.Conv2d(w, w, 1, bias=False)
        self.conv.weight.data.copy_(torch.eye(w).flip(1)[:, :, None, None])
        self.conv.weight.requires_grad = False

    def forward(self, x):
        return self.conv(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)


class FlipAverage(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.flip = FlipW()

    def forward(self, x):
        return (self.net(x) + self.net(self.flip(x))) * 0.5


def count_macs(model: nn.Module) -> int:
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            macs.append(out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1])
        elif isinstance(mod, nn.Linear):
            macs.append(mod.in_features * mod.out_features)

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 1, faces.SIZE, faces.SIZE))
    for h in hooks:
        h.remove()
    return int(sum(macs))


def export_onnx(model: nn.Module, path: Path):
    import onnx

    model.eval()
    dummy = torch.zeros(1, 1, faces.SIZE, faces.SIZE)
    torch.onnx.export(model, (dummy,), str(path), dynamo=False, opset_version=13, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True)
    m = onnx.load(str(path))
    # Shared weights (mirror averaging) come out as Identity nodes, which OpenCV 4.6 rejects: rewire and drop them.
    ident = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "Identity"}
    if ident:
        keep = [n for n in m.graph.node if n.op_type != "Identity"]
        for n in keep:
            for i, name in enumerate(n.input):
                while name in ident:
                    name = ident[name]
                n.input[i] = name
        del m.graph.node[:]
        m.graph.node.extend(keep)
        onnx.save(m, str(path))
    onnx.checker.check_model(m)
    return sorted({n.op_type for n in m.graph.node})


def cv2_logits(net, crops: np.ndarray) -> np.ndarray:
    out = np.empty((len(crops), len(LABELS)), np.float32)
    for i, crop in enumerate(crops):
        net.setInput(normalize(crop)[None, None])
        out[i] = net.forward().reshape(-1)
    return out


def write_fixture(path: Path, net, detector: faces.YuNet, frames_dir: Path, fer_dir: Path):
    """Detections, aligned crops and logits on real frames (actor frames, searched like video frames at two widths)
    and on FER2013 PublicTest images (the tight-crop path), for `FaceAlignmentTests`."""
    items = []
    for png in sorted(frames_dir.glob("Actor_*.png"))[:12]:
        gray = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
        for search_width in (640, 160):
            rows = detector.detect(gray, *faces.input_size(gray.shape[1], gray.shape[0], search_width))
            entry = {"image": f"ravdess/actor-frames/{png.name}", "kind": "frame", "search_width": search_width,
                     "faces": [{"box": r[:4].tolist(), "score": float(r[4]), "landmarks": r[5:15].tolist()} for r in rows]}
            if len(rows):
                best = rows[np.argmax(rows[:, 2] * rows[:, 3])]
                crop = faces.align(gray, best[5:15].reshape(5, 2))
                entry["crop"] = crop.reshape(-1).tolist()
                net.setInput(normalize(crop)[None, None])
                entry["logits"] = net.forward().reshape(-1).tolist()
            items.append(entry)
    for label in LABELS:
        for jpg in sorted((fer_dir / label).glob("*.jpg"))[:3]:
            gray = cv2.imread(str(jpg), cv2.IMREAD_GRAYSCALE)
            canvas = cv2.copyMakeBorder(gray, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=128)
            rows = detector.detect(canvas, 288, 288)
            marks = rows[np.argmax(rows[:, 2] * rows[:, 3])][5:15].reshape(5, 2) - 24 if len(rows) else faces.TEMPLATE
            crop = faces.align(gray, marks)
            net.setInput(normalize(crop)[None, None])
            items.append({"image": f"fer2013/public_test/{label}/{jpg.name}", "kind": "fer", "found": bool(len(rows)),
                          "crop": crop.reshape(-1).tolist(), "logits": net.forward().reshape(-1).tolist()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"size": faces.SIZE, "template": faces.TEMPLATE.tolist(), "items": items}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="training/fer/runs/main/best.pt")
    ap.add_argument("--choice", help="choose.py's choice.json: checkpoint, blend and aggregation")
    ap.add_argument("--blend", type=float, default=1.0, help="weight of the perceived head (two-head checkpoints)")
    ap.add_argument("--aggregation", help="frame aggregation for the card (default: keep the card's)")
    ap.add_argument("--cache", default="training/fer/cache/faces.npz")
    ap.add_argument("--out", default="Models")
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--fixture", default="Tests/AnalysisTests/Fixtures/fer-serving-reference.json")
    ap.add_argument("--latency-runs", type=int, default=500)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.choice:
        choice = json.loads(Path(args.choice).read_text())["choice"]
        args.ckpt, args.blend, args.aggregation = choice["checkpoint"], choice["blend"], choice["aggregation"]
    state = torch.load(args.ckpt, map_location="cpu", weights_only=False)
    net = FaceNet(tuple(state["widths"]), heads=state.get("heads", 1))
    net.load_state_dict(state["model"])
    if net.heads == 2:
        net = net.blended_head([args.blend, 1 - args.blend])
    net.eval()
    model = FlipAverage(net) if args.flip else net
    out = Path(args.out)
    onnx_path = out / "fer.onnx"
    ops = export_onnx(model, onnx_path)

    data = load(args.cache)
    public = data["public"]
    crops = aligned(public)
    cvnet = cv2.dnn.readNetFromONNX(str(onnx_path))
    cvnet.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    cvnet.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    logits = cv2_logits(cvnet, crops)
    reference = predict_logits(net, crops[:256], flip=args.flip)
    max_diff = float(np.abs(reference - logits[:256]).max())
    usable = public["majority"] >= 0
    pred = logits.argmax(1)
    ferplus = metrics(public["majority"][usable], pred[usable])
    fer2013 = metrics(public["fer"], pred)
    ckplus = None
    if "ckplus" in data:
        held = ckplus_fold(data["ckplus"]["subject"], 0)
        ck = {k: v[held] for k, v in data["ckplus"].items()}
        ckplus = metrics(ck["fer"], cv2_logits(cvnet, aligned(ck)).argmax(1))
        ckplus["subjects"] = len(set(ck["subject"].tolist()))
    blob = normalize(crops[0])[None, None]
    for _ in range(20):
        cvnet.setInput(blob)
        cvnet.forward()
    started = time.perf_counter()
    for _ in range(args.latency_runs):
        cvnet.setInput(blob)
        cvnet.forward()
    latency_ms = (time.perf_counter() - started) / args.latency_runs * 1000

    card_path = out / "fer.json"
    previous = json.loads(card_path.read_text()) if card_path.exists() else {}
    card = {
        "schema": 1,
        "name": NAME,
        "task": "face",
        "onnx": "fer.onnx",
        "sha256": sha256_file(onnx_path),
        "labels": LABELS,
        "canonical": {label: label for label in LABELS},
        "input": {"width": faces.SIZE, "height": faces.SIZE, "scale": SCALE, "offset": OFFSET},
        "alignment": {"detector": "face_detection_yunet_2023mar.onnx", "size": faces.SIZE,
                      "template": faces.TEMPLATE.tolist()},
        "aggregation": args.aggregation or previous.get("aggregation", "mean_logits"),
        "temperature": previous.get("temperature", 1.0),
        "validation": {
            "split": "FER2013 PublicTest, through cv2.dnn on the aligned crops",
            "ferplus_majority": {"n": ferplus["n"], "accuracy": round(ferplus["accuracy"], 4),
                                 "macro_f1": round(ferplus["macro_f1"], 4)},
            "fer2013_labels": {"n": fer2013["n"], "accuracy": round(fer2013["accuracy"], 4),
                               "macro_f1": round(fer2013["macro_f1"], 4)},
        },
        **({"validation_ckplus": {"split": "CK+48, the held-out subject fold (fold 0 of 5, never trained on)",
                                  "subjects": ckplus["subjects"], "n": ckplus["n"],
                                  "accuracy": round(ckplus["accuracy"], 4),
                                  "macro_f1": round(ckplus["macro_f1"], 4)}} if ckplus else {}),
        "fusion_weight": previous.get("fusion_weight", 1.0),
    }
    for key in ("fusion",):
        if key in previous:
            card[key] = previous[key]
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    report = {
        "checkpoint": args.ckpt, "epoch": state.get("epoch"), "blend": args.blend if state.get("heads", 1) == 2 else None,
        "flip_in_graph": args.flip, "onnx_ops": ops,
        "macs": count_macs(net) * (2 if args.flip else 1), "parameters": sum(p.numel() for p in net.parameters()),
        "cv2_vs_torch_max_abs_diff": max_diff, "latency_ms_one_thread": round(latency_ms, 3),
        "ferplus_majority": ferplus, "fer2013_labels": fer2013, "ckplus_heldout": ckplus,
        "detector_found_share": {"train": float(data["train"]["found"].mean()), "public": float(public["found"].mean())},
    }
    Path("training/fer/runs").mkdir(parents=True, exist_ok=True)
    Path("training/fer/runs/export_report.json").write_text(json.dumps(report, indent=2))
    if args.fixture:
        detector = faces.YuNet(str(out / "face_detection_yunet_2023mar.onnx"))
        root = Path(args.data)
        write_fixture(Path(args.fixture), cvnet, detector, root / "ravdess/actor-frames", root / "fer2013/public_test")
    print(json.dumps({k: report[k] for k in ("epoch", "macs", "latency_ms_one_thread", "cv2_vs_torch_max_abs_diff")}))
    print(f"PublicTest FER+ majority {ferplus['accuracy']:.4f} (n={ferplus['n']}), FER2013 labels "
          f"{fer2013['accuracy']:.4f} (n={fer2013['n']})")


if __name__ == "__main__":
    main()
