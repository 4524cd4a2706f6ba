#!/usr/bin/env python3
"""Cross-validates averaged ensembles of several runs: on each fold every run's fold model (trained without that
fold's actors) scores the fold's clips, clean and under every corruption; each run alone and the logit average of
every subset of two or more runs are scored.

Example: python3 training/ser/ensemble_cv.py --runs training/ser/runs/cv-base training/ser/runs/cv-c \
             --out training/ser/runs/ensemble-cv.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corruptions  # noqa: E402
import crossval  # noqa: E402
import frontend  # noqa: E402
import train  # noqa: E402


def load(run, fold):
    """The fold model of a cross-validation run."""
    recipe = json.load(open(os.path.join(run, "cv.json")))["args"]
    return train.net_from_recipe(recipe, os.path.join(run, f"fold{fold}.pt"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", required=True, help="cv runs whose fold<k>.pt are averaged")
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    folds = sorted(set.intersection(*[{int(f[4:-3]) for f in os.listdir(r) if f.startswith("fold") and f.endswith(".pt")}
                                      for r in args.runs]))
    result = {"runs": args.runs, "folds": {}}
    for k in folds:
        xs, y, _ = train.load_split(args.data, crossval.FOLDS[k])
        models = [load(r, k) for r in args.runs]
        table = {}
        for j, kind in enumerate(corruptions.KINDS):
            rng = np.random.default_rng((1 + k) * 100 + j)  # crossval.corruption_table's seeds (seed 1)
            feats = np.stack([frontend.features(corruptions.corrupt(x, kind, rng, [o for i2, o in enumerate(xs) if i2 != i],
                                                                    crossval.CODEC_CACHE)) for i, x in enumerate(xs)])
            members = [train.predict(m, feats) for m in models]
            scores = {}
            subsets = [c for r in range(len(members), 1, -1) for c in itertools.combinations(range(len(members)), r)]
            named = [(f"ensemble {'+'.join(map(str, c))}", np.mean([members[i] for i in c], axis=0)) for c in subsets]
            for name, logits in named + [(f"member{i}", m) for i, m in enumerate(members)]:
                metrics = train.evaluate(logits, y)
                scores[name] = {"ravdess7": metrics["ravdess7"]["accuracy"], "canonical": metrics["canonical"]["accuracy"]}
            table[kind] = scores
        result["folds"][str(k)] = table
        full = next(iter(table["clean"]))
        print(f"fold {k} ({full}): " + " ".join(f"{kind} {v[full]['ravdess7']:.3f}" for kind, v in table.items()),
              flush=True)
    summary = {}
    for kind in corruptions.KINDS:
        summary[kind] = {name: {p: float(np.mean([result["folds"][str(k)][kind][name][p] for k in folds]))
                                for p in ("ravdess7", "canonical")}
                         for name in result["folds"][str(folds[0])][kind]}
    result["summary"] = summary
    json.dump(result, open(args.out, "w"), indent=1)
    print(f"folds {folds}")
    print("| corruption | " + " | ".join(summary["clean"]) + " |")
    for kind in corruptions.KINDS:
        print(f"| {kind} | " + " | ".join(f"{v['ravdess7']:.3f}" for v in summary[kind].values()) + " |")


if __name__ == "__main__":
    main()
