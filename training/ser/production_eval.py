#!/usr/bin/env python3
"""Scores cross-validation fold models through the production path: corrupted files, FFmpeg decoding, the Swift
front end, OpenCV inference (`er-audio-worker evaluate`), each fold on its own unseen actors.

For every fold folder of a cvexport.py export: finalize.py exports the fold model, corrupt.py writes the fold's
actors under every corruption kind (codecs as real .m4a / .mp3 files), and `er-audio-worker evaluate --predictions`
scores them. Prints the table (mean and spread over folds, both protocols) and writes it as JSON; the clean
predictions of all folds together are the out-of-fold predictions that training/fusion/fit.py calibrates on.

Example:
  python3 training/ser/production_eval.py --export training/ser/runs/cv-robust/export \
      --worker .build/release/er-audio-worker --out training/ser/runs/cv-robust/production
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corruptions  # noqa: E402
import crossval  # noqa: E402
import train  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def scores(records):
    """Both protocols from prediction records (truth from the RAVDESS name: the third field is the emotion)."""
    y = np.array([int(os.path.basename(r["path"]).split("-")[2]) - 1 for r in records])
    logits = np.array([r["logits"] for r in records], dtype=np.float64)
    assert records[0]["labels"] == train.LABELS
    m = train.evaluate(logits, y)
    return {"ravdess7": m["ravdess7"]["accuracy"], "canonical": m["canonical"]["accuracy"],
            "ravdess7_macro_f1": m["ravdess7"]["macro_f1"], "canonical_macro_f1": m["canonical"]["macro_f1"],
            "n": len(records)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", required=True, help="a cvexport.py output folder (fold0, fold1, ...)")
    ap.add_argument("--worker", default=".build/release/er-audio-worker")
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--out", required=True)
    ap.add_argument("--kinds", default=",".join(corruptions.KINDS))
    ap.add_argument("--cv2-python", default=sys.executable,
                    help="a Python with OpenCV 4.6 (cv2) for finalize.py's export check")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    table = {kind: [] for kind in kinds}
    oof = []
    for fold in sorted(glob.glob(os.path.join(args.export, "fold*"))):
        k = int(os.path.basename(fold)[4:])
        actors = crossval.FOLDS[k]
        models = os.path.join(args.out, f"models-fold{k}")
        subprocess.run([sys.executable, os.path.join(HERE, "finalize.py"), "--run", fold, "--out", models,
                        "--fixture", "", "--cv2-python", args.cv2_python, "--data", args.data],
                       check=True, stdout=subprocess.DEVNULL)
        for kind in kinds:
            media = os.path.join(args.out, "media", f"fold{k}", kind)
            if not os.path.isdir(media):
                subprocess.run([sys.executable, os.path.join(HERE, "corrupt.py"), "--kind", kind, "--data", args.data,
                                "--actors", f"{actors[0]}-{actors[-1]}", "--out", media, "--seed", str(100 + k)],
                               check=True, stdout=subprocess.DEVNULL)
            predictions = os.path.join(args.out, f"fold{k}-{kind}.jsonl")
            subprocess.run([args.worker, "evaluate", media, "--models", models, "--json", "--predictions", predictions],
                           check=True, stdout=subprocess.DEVNULL)
            records = [json.loads(line) for line in open(predictions) if line.strip()]
            s = scores(records)
            s["fold"] = k
            table[kind].append(s)
            if kind == "clean":
                oof += records
            print(f"fold {k} {kind:12s} n {s['n']:3d} ravdess7 {s['ravdess7']:.4f} canonical {s['canonical']:.4f}", flush=True)
    with open(os.path.join(args.out, "out-of-fold.jsonl"), "w") as f:
        for record in oof:
            f.write(json.dumps(record) + "\n")
    corrupted = {kind: {p: crossval.summarise([r[p] for r in rows]) for p in ("ravdess7", "canonical")}
                 for kind, rows in table.items()}
    # crossval.py's summary shape (clean figures at the top), so that finalize.py --cv reads either
    summary = {"folds": len(table["clean"]), "scored": "production path",
               **{p: crossval.summarise([r[p] for r in table["clean"]])
                  for p in ("ravdess7", "canonical", "ravdess7_macro_f1", "canonical_macro_f1")},
               "corruptions": corrupted}
    json.dump({"folds": table, "summary": summary}, open(os.path.join(args.out, "production.json"), "w"), indent=1)
    clean = summary["ravdess7"]["mean"]
    print("| corruption | ravdess7 | drop | canonical |")
    print("|---|---|---|---|")
    for kind in kinds:
        s = corrupted[kind]
        print(f"| {kind} | {s['ravdess7']['mean']:.3f} ± {s['ravdess7']['std']:.3f} | {100 * (s['ravdess7']['mean'] - clean):+.1f} |"
              f" {s['canonical']['mean']:.3f} ± {s['canonical']['std']:.3f} |")


if __name__ == "__main__":
    main()
