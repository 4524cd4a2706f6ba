"""Export a checkpoint to Models/fer.onnx + Models/fer.json, verify it with OpenCV's dnn module, write the fixture.

    python training/fer/export.py --ckpt training/fer/runs/main/best.pt --out Models [--flip]
    python training/fer/export.py --choice training/fer/runs/posed/choice.json --out Models   # a two-head run

- A two-head checkpoint is exported with both heads side by side in one output (`FaceNet.stacked_heads`): logits
  0-6 the perceived head (FER+ votes; the card's `vote_head`), logits 7-13 the served head (the card's
  `served_head`, `intended`: `blend * perceived + (1 - blend) * intended` folded into the last layer, blend 0 by
  default); `--choice` takes the checkpoint, blend and frame aggregation `choose.py` chose.

- torch.onnx.export(dynamo=False, opset 13), input [1,1,48,48] "input", output "logits" (7 per head, LABELS order).
- `--flip` bakes mirror averaging into the graph, `(net(x) + net(flip(x))) / 2`, the flip written as Transpose +
  fixed 1x1 Conv + Transpose (OpenCV 4.6 has no reliable negative-step Slice).
- Loads the ONNX with cv2.dnn (OpenCV 4.6, as the Swift side), compares with torch on PublicTest crops, measures the
  latency per face on one thread, and scores every head of the ONNX on all of PublicTest (FER+ majority and FER2013
  labels) and on CK+'s held-out subjects.
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
from train import aligned, ckplus_fold, load, load_clips  # noqa: E402

NAME = "fer-resnet48-posed-v4"
HEADS = ("perceived", "intended")


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


def cv2_logits(net, crops: np.ndarray, outputs: int = len(LABELS)) -> np.ndarray:
    out = np.empty((len(crops), outputs), np.float32)
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
    ap.add_argument("--blend", type=float, default=0.0,
                    help="weight of the perceived head in the served head (two-head checkpoints; 0 = the intended head)")
    ap.add_argument("--aggregation", help="frame aggregation for the card (default: keep the card's)")
    ap.add_argument("--cache", default="training/fer/cache/faces.npz")
    ap.add_argument("--out", default="Models")
    ap.add_argument("--flip", action="store_true")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--fixture", default="Tests/AnalysisTests/Fixtures/fer-serving-reference.json")
    ap.add_argument("--latency-runs", type=int, default=500)
    ap.add_argument("--clips", default="training/fer/cache/clips.npz", help="clips.py output: the shared clips' face crops")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.choice:
        choice = json.loads(Path(args.choice).read_text())["choice"]
        args.ckpt, args.blend, args.aggregation = choice["checkpoint"], choice["blend"], choice["aggregation"]
    state = torch.load(args.ckpt, map_location="cpu", weights_only=False)
    net = FaceNet(tuple(state["widths"]), heads=state.get("heads", 1))
    net.load_state_dict(state["model"])
    heads = HEADS if net.heads == 2 else ("",)
    if net.heads == 2:
        net = net.stacked_heads([[1.0, 0.0], [args.blend, 1 - args.blend]])
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
    outputs = len(LABELS) * len(heads)
    logits = cv2_logits(cvnet, crops, outputs)
    reference = predict_logits(net, crops[:256], flip=args.flip)
    max_diff = float(np.abs(reference - logits[:256]).max())
    usable = public["majority"] >= 0
    ck = None
    if "ckplus" in data:
        held = ckplus_fold(data["ckplus"]["subject"], 0)
        ck = {k: v[held] for k, v in data["ckplus"].items()}
        ck_logits = cv2_logits(cvnet, aligned(ck), outputs)
    figures = {}
    for index, head in enumerate(heads):
        block = slice(index * len(LABELS), (index + 1) * len(LABELS))
        pred = logits[:, block].argmax(1)
        figures[head] = {"ferplus_majority": metrics(public["majority"][usable], pred[usable]),
                         "fer2013_labels": metrics(public["fer"], pred)}
        if ck is not None:
            figures[head]["ckplus_heldout"] = metrics(ck["fer"], ck_logits[:, block].argmax(1))
            figures[head]["ckplus_heldout"]["subjects"] = len(set(ck["subject"].tolist()))
    blob = normalize(crops[0])[None, None]
    for _ in range(20):
        cvnet.setInput(blob)
        cvnet.forward()
    started = time.perf_counter()
    for _ in range(args.latency_runs):
        cvnet.setInput(blob)
        cvnet.forward()
    latency_ms = (time.perf_counter() - started) / args.latency_runs * 1000

    clips = load_clips(args.clips)
    clip_figures = None
    if clips is not None:
        from choose import METHODS, aggregate  # the Swift FrameAggregation rules, mirrored

        frame_logits = cv2_logits(cvnet, clips["crops"], outputs)
        clip_figures = {}
        for index, head in enumerate(heads):
            block = frame_logits[:, index * len(LABELS):(index + 1) * len(LABELS)]
            clip_figures[head or "model"] = {
                method: round(float(np.mean([aggregate(block[clips["clip"] == i], method,
                                                       clips["time"][clips["clip"] == i]).argmax() == label
                                             for i, label in enumerate(clips["labels"])])), 4)
                for method in METHODS}

    def summary(m: dict) -> dict:
        return {"n": m["n"], "accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4)}

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
        "fusion_weight": previous.get("fusion_weight", 1.0),
    }
    if len(heads) == 2:
        card.update({"heads": list(HEADS), "served_head": "intended", "vote_head": "perceived",
                     "intended_blend": {"perceived": args.blend, "intended": round(1 - args.blend, 4)}})
    card["validation"] = {
        "split": "FER2013 PublicTest, through cv2.dnn on the aligned crops",
        **{head or "model": {"ferplus_majority": summary(f["ferplus_majority"]),
                             "fer2013_labels": summary(f["fer2013_labels"])} for head, f in figures.items()},
    }
    if ck is not None:
        card["validation_ckplus"] = {
            "split": "CK+48, the held-out subject fold (fold 0 of 5, never trained on)",
            "subjects": len(set(ck["subject"].tolist())),
            **{head or "model": summary(f["ckplus_heldout"]) for head, f in figures.items()},
        }
    if clip_figures is not None:
        card["validation_clips"] = {
            "split": "the shared RAVDESS clips (actor 1, never trained on), face crops as the video worker makes them "
                     "(clips.py, 5 frames per second); accuracy of the clip label by frame aggregation",
            "n": int(len(clips["labels"])), **clip_figures}
    card["cost"] = {"ms_per_face_one_thread": round(latency_ms, 2), "multiply_adds": count_macs(net) * (2 if args.flip else 1),
                    "parameters": sum(p.numel() for p in net.parameters()),
                    "runtime": f"OpenCV {cv2.__version__} cv2.dnn, one thread"}
    for key in ("fusion",):
        if key in previous:
            card[key] = previous[key]
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    report = {
        "checkpoint": args.ckpt, "epoch": state.get("epoch"), "blend": args.blend if len(heads) == 2 else None,
        "flip_in_graph": args.flip, "onnx_ops": ops,
        "macs": count_macs(net) * (2 if args.flip else 1), "parameters": sum(p.numel() for p in net.parameters()),
        "cv2_vs_torch_max_abs_diff": max_diff, "latency_ms_one_thread": round(latency_ms, 3),
        "heads": figures,
        "detector_found_share": {"train": float(data["train"]["found"].mean()), "public": float(public["found"].mean())},
    }
    Path("training/fer/runs").mkdir(parents=True, exist_ok=True)
    Path("training/fer/runs/export_report.json").write_text(json.dumps(report, indent=2))
    if args.fixture:
        detector = faces.YuNet(str(out / "face_detection_yunet_2023mar.onnx"))
        root = Path(args.data)
        write_fixture(Path(args.fixture), cvnet, detector, root / "ravdess/actor-frames", root / "fer2013/public_test")
    print(json.dumps({k: report[k] for k in ("epoch", "macs", "latency_ms_one_thread", "cv2_vs_torch_max_abs_diff")}))
    for head, f in figures.items():
        print(f"{head or 'model'}: PublicTest FER+ majority {f['ferplus_majority']['accuracy']:.4f} "
              f"(n={f['ferplus_majority']['n']}), FER2013 labels {f['fer2013_labels']['accuracy']:.4f} "
              f"(n={f['fer2013_labels']['n']})"
              + (f", CK+ held-out {f['ckplus_heldout']['accuracy']:.4f}" if "ckplus_heldout" in f else ""))


if __name__ == "__main__":
    main()
