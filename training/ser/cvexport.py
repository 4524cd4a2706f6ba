#!/usr/bin/env python3
"""Turns a cross-validation run (crossval.py), or several runs of one architecture averaged as an ensemble, into run
folders that finalize.py exports.

For every fold k: <out>/fold<k>/ holds member<i>.pt (the fold model of each run), result.json (the recipe) and val.npz (the
clean features of the fold's own, unseen actors), so that finalize.py exports and checks it and
`er-audio-worker evaluate` can score it through the production path on those actors only. With final.pt present,
<out>/final/ holds the model trained on all 20 actors (val.npz then holds actors 17-20 for the export check and the
front-end fixture; they are training actors of that model).

Examples: python3 training/ser/cvexport.py --cv-run training/ser/runs/cv-robust --out training/ser/runs/cv-robust/export
          python3 training/ser/cvexport.py --cv-run training/ser/runs/s1-ft training/ser/runs/s2-ft --out ens/export
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


def write_run(folder, checkpoints, args, actors, data):
    os.makedirs(folder, exist_ok=True)
    for i, checkpoint in enumerate(checkpoints):
        shutil.copyfile(checkpoint, os.path.join(folder, f"member{i}.pt"))
    recipe = dict(args)
    recipe["members"] = len(checkpoints)
    json.dump({"args": recipe}, open(os.path.join(folder, "result.json"), "w"), indent=1)
    xs, y, paths = train.load_split(data, actors)
    feats = np.stack([frontend.features(x) for x in xs])
    np.savez(os.path.join(folder, "val.npz"), feats=feats, y=y, paths=np.array(paths))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv-run", required=True, nargs="+", help="one run, or several whose models are averaged")
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    recipes = [json.load(open(os.path.join(run, "cv.json")))["args"] for run in args.cv_run]
    for key in train.ARCHITECTURE:
        assert len({str(r[key]) for r in recipes}) == 1, f"the runs differ in {key}: one graph needs one architecture"
    recipe = recipes[0]

    def checkpoints(name):
        paths = [os.path.join(run, name) for run in args.cv_run]
        return paths if all(os.path.exists(p) for p in paths) else None

    first = args.cv_run[0]
    for k in sorted(int(os.path.basename(p)[4:-3]) for p in glob.glob(os.path.join(first, "fold*.pt"))):
        if members := checkpoints(f"fold{k}.pt"):
            write_run(os.path.join(args.out, f"fold{k}"), members, recipe, crossval.FOLDS[k], args.data)
            print(f"fold {k}: actors {crossval.FOLDS[k]}, {len(members)} member(s)")
    if members := checkpoints("final.pt"):
        write_run(os.path.join(args.out, "final"), members, recipe, range(17, 21), args.data)
        print(f"final: all 20 actors, {len(members)} member(s)")


if __name__ == "__main__":
    main()
