#!/usr/bin/env python3
"""Turns a cross-validation run (crossval.py) into run folders that finalize.py exports.

For every fold k: <out>/fold<k>/ holds member0.pt (the fold model), result.json (its recipe) and val.npz (the
clean features of the fold's own, unseen actors), so that finalize.py exports and checks it and
`er-audio-worker evaluate` can score it through the production path on those actors only. With final.pt present,
<out>/final/ holds the model trained on all 20 actors (val.npz then holds actors 17-20 for the export check and the
front-end fixture; they are training actors of that model).

Example: python3 training/ser/cvexport.py --cv-run training/ser/runs/cv-robust --final-run training/ser/runs/final-robust \
             --out training/ser/runs/cv-robust/export
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crossval  # noqa: E402
import frontend  # noqa: E402
import train  # noqa: E402


def write_run(folder, checkpoint, args, actors, data):
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(checkpoint, os.path.join(folder, "member0.pt"))
    recipe = dict(args)
    recipe["members"] = 1
    json.dump({"args": recipe}, open(os.path.join(folder, "result.json"), "w"), indent=1)
    xs, y, paths = train.load_split(data, actors)
    feats = np.stack([frontend.features(x) for x in xs])
    np.savez(os.path.join(folder, "val.npz"), feats=feats, y=y, paths=np.array(paths))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv-run", required=True)
    ap.add_argument("--final-run", help="run folder holding final.pt (default: the cv run)")
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    result = json.load(open(os.path.join(args.cv_run, "cv.json")))
    recipe = result["args"]
    for checkpoint in sorted(glob.glob(os.path.join(args.cv_run, "fold*.pt"))):
        k = int(os.path.basename(checkpoint)[4:-3])
        write_run(os.path.join(args.out, f"fold{k}"), checkpoint, recipe, crossval.FOLDS[k], args.data)
        print(f"fold {k}: actors {crossval.FOLDS[k]}")
    final = os.path.join(args.final_run or args.cv_run, "final.pt")
    if os.path.exists(final):
        write_run(os.path.join(args.out, "final"), final, recipe, range(17, 21), args.data)
        print("final: all 20 actors")


if __name__ == "__main__":
    main()
