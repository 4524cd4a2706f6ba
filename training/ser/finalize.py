#!/usr/bin/env python3
"""Export a trained run to ONNX, check it with OpenCV 4.6 dnn, and write the model card + Swift fixture.

Example (from the repository root):
  python3 training/ser/finalize.py --run training/ser/runs/a2 --data ../shared/data/ravdess/speech-16k \
      --out Models --cv2-python /tmp/cv46/bin/python
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frontend  # noqa: E402
import train  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURE = os.path.join(REPO, "Tests", "AnalysisTests", "Fixtures", "ser-frontend-reference.json")
# 2 validation clips per actor 17-20, varied emotions (EE: 01 neutral .. 08 surprised)
FIXTURE_CLIPS = [
    "Actor_17/03-01-05-02-01-01-17.flac", "Actor_17/03-01-03-01-02-02-17.flac",
    "Actor_18/03-01-04-02-02-01-18.flac", "Actor_18/03-01-01-01-01-02-18.flac",
    "Actor_19/03-01-06-01-01-01-19.flac", "Actor_19/03-01-07-02-02-02-19.flac",
    "Actor_20/03-01-08-02-01-02-20.flac", "Actor_20/03-01-02-01-02-01-20.flac",
]


def load_members(run):
    res = json.load(open(os.path.join(run, "result.json")))
    return [train.net_from_recipe(res["args"], os.path.join(run, f"member{k}.pt"))
            for k in range(res["args"]["members"])], res


def load_model(runs):
    """All members of all runs, logits averaged inside one graph."""
    members, results = [], []
    for r in runs:
        m, res = load_members(r)
        members += m
        results.append(res)
    return train.Ensemble(members).eval(), results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, nargs="+", help="one or more run dirs; several = averaged ensemble")
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--out", default="Models")
    ap.add_argument("--name", default=None, help="card name, default ser-<arch>-v1")
    ap.add_argument("--cv2-python", default=sys.executable)
    ap.add_argument("--fixture", default=FIXTURE, help="'' to write no fixture (a fold model, say)")
    ap.add_argument("--cv", help="cv.json of crossval.py (or production.json of production_eval.py, the same "
                                 "summary): the card's validation figures are then the cross-validated ones")
    args = ap.parse_args()
    torch.set_num_threads(1)

    model, results = load_model(args.run)
    run0 = args.run[0]
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "ser.onnx")
    ops = train.export_onnx(model, onnx_path)
    macs = train.count_macs(model)

    val = np.load(os.path.join(run0, "val.npz"))
    feats, y, paths = val["feats"], val["y"], [str(p) for p in val["paths"]]
    # recompute features from the audio (guards against stale caches)
    if args.fixture:
        for p in FIXTURE_CLIPS:
            assert p in paths, p
        extra = [frontend.features(sf.read(os.path.join(args.data, p), dtype="float32")[0]) for p in FIXTURE_CLIPS]
        for p, f in zip(FIXTURE_CLIPS, extra):
            assert np.array_equal(f, feats[paths.index(p)]), p
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(feats[:, None])).numpy()

    tmp_in = os.path.join(run0, "cv2_inputs.npy")
    tmp_out = os.path.join(run0, "cv2_out.npz")
    np.save(tmp_in, feats)
    subprocess.run([args.cv2_python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cv2_check.py"),
                    onnx_path, tmp_in, tmp_out], check=True)
    cv = np.load(tmp_out)
    cv_logits = cv["logits"]
    max_diff = float(np.abs(cv_logits - torch_logits).max())
    metrics = train.evaluate(cv_logits, y)
    metrics_t = train.evaluate(torch_logits, y)
    lat = cv["latency_ms"]

    sha = hashlib.sha256(open(onnx_path, "rb").read()).hexdigest()
    n_members = len(model.members)
    arch = ("cnn" + results[0]["args"]["widths"].split(",")[-1]) if n_members == 1 else f"cnn-ens{n_members}"
    name = args.name or f"ser-{arch}-v1"
    card = {
        "schema": 1, "name": name, "task": "speech", "onnx": "ser.onnx", "sha256": sha,
        "labels": train.LABELS,
        "canonical": train.CANON_MAP,
        "input": {"sample_rate": 16000, "frame_length": 400, "hop_length": 160, "n_fft": 512, "n_mels": 64,
                  "fmin": 50, "fmax": 8000, "log_offset": 1e-6, "frames": 300, "norm_epsilon": 1e-5},
        "validation": {"split": "RAVDESS speech actors 17-20",
                       "ravdess7": {k: metrics["ravdess7"][k] for k in ("n", "accuracy", "macro_f1")},
                       "canonical": {k: metrics["canonical"][k] for k in ("n", "accuracy", "macro_f1")}},
        # Calibration and fusion are fitted afterwards on both streams' validation predictions
        # (training/fusion/fit.py writes `temperature` and `fusion_weight`; see Models/FUSION.md).
        "fusion_weight": 1.0,
    }
    for proto in ("ravdess7", "canonical"):
        for k in ("accuracy", "macro_f1"):
            card["validation"][proto][k] = round(card["validation"][proto][k], 4)
    if args.cv:
        summary = json.load(open(args.cv))["summary"]
        scored = f", scored through the {summary['scored']}" if "scored" in summary else ""
        card["validation"] = {
            "split": f"{summary['folds']}-fold cross-validation on RAVDESS speech actors 1-20, 4 unseen actors per fold "
                     f"(fold models{scored}; this model is the same recipe trained on all 20)",
            **{proto: {"accuracy_mean": round(summary[proto]["mean"], 4), "accuracy_std": round(summary[proto]["std"], 4),
                       "macro_f1_mean": round(summary[f"{proto}_macro_f1"]["mean"], 4)}
               for proto in ("ravdess7", "canonical")},
        }
    with open(os.path.join(args.out, "ser.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")

    clips = []
    for p in FIXTURE_CLIPS if args.fixture else []:
        x = sf.read(os.path.join(args.data, p), dtype="float32")[0]
        logmel, energies = frontend.log_mel_and_energy(x)
        win, start = frontend.select_window(logmel, energies)
        w64 = win.astype(np.float64)
        i = paths.index(p)
        clips.append({"path": p, "n_samples": int(len(x)), "n_frames": int(logmel.shape[0]), "start": int(start),
                      "raw_mean": round(float(w64.mean()), 6), "raw_std": round(float(w64.std()), 6),
                      "label": train.LABELS[int(y[i])],
                      "logits": [round(float(v), 5) for v in cv_logits[i]]})
    first = feats[paths.index(FIXTURE_CLIPS[0])] if args.fixture else feats[0]
    fixture = {"description": "SER front-end + model reference (training/ser/frontend.py, Models/ser.onnx via "
                              "OpenCV 4.6 dnn). Paths relative to ../shared/data/ravdess/speech-16k.",
               "model_sha256": sha, "clips": clips,
               "full_input": {"path": FIXTURE_CLIPS[0], "shape": [64, 300], "layout": "row-major, row = mel band",
                              "values": [round(float(v), 5) for v in first.reshape(-1)]}}
    if args.fixture:
        os.makedirs(os.path.dirname(args.fixture), exist_ok=True)
        with open(args.fixture, "w") as f:
            json.dump(fixture, f, separators=(",", ":"))
            f.write("\n")

    report = {"runs": args.run, "torch_metrics": {k: metrics_t[k] for k in ("ravdess7", "canonical", "accuracy8")},
              "card": card, "macs": macs, "ops": ops, "cv2_version": str(cv["version"]),
              "cv2_vs_torch_max_abs_diff": max_diff,
              "latency_ms": {"median": float(np.median(lat)), "p90": float(np.percentile(lat, 90)),
                             "min": float(lat.min())},
              "confusion": {k: {"classes": metrics[k]["classes"], "matrix": metrics[k]["confusion"]}
                            for k in ("ravdess7", "canonical")},
              "accuracy8": metrics["accuracy8"],
              "fixture_bytes": os.path.getsize(args.fixture) if args.fixture else 0}
    json.dump(report, open(os.path.join(run0, "finalize.json"), "w"), indent=1)
    print(json.dumps({k: v for k, v in report.items() if k != "confusion"}, indent=1))
    for k in ("ravdess7", "canonical"):
        print(k, metrics[k]["classes"])
        for row in metrics[k]["confusion"]:
            print("  ", row)


if __name__ == "__main__":
    main()
