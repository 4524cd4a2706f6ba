#!/usr/bin/env python3
"""Cross-validates test-time window averaging: each fold model scores its own unseen actors' clips with the served
input (the 3 s window of most energy) and with three alternatives — the whole clip at once (the net pools over
time, so any length fits), the mean of three windows (start, most energy, end) and the mean of windows every
0.5 s. With several runs, their fold models' logits are also averaged (an ensemble). Prints ravdess7 and
canonical accuracy per fold and the means, for each run and the ensemble.

Example: python3 training/ser/window_average_cv.py --runs training/ser/runs/s1-ft training/ser/runs/s2-ftb
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crossval  # noqa: E402
import frontend  # noqa: E402
import train  # noqa: E402
from ensemble_cv import load  # noqa: E402

MODES = ("served window", "whole clip", "3 windows", "windows every 0.5 s")


def logits_by_mode(model, samples):
    """The model's logits for one clip under each of `MODES`."""
    logmel, energies = frontend.log_mel_and_energy(samples)
    window, start = frontend.select_window(logmel, energies)

    def score(features):
        return model(torch.from_numpy(frontend.normalise(features)[None, None])).numpy()[0]

    served = score(window)
    frames = logmel.shape[0]
    if frames <= frontend.FRAMES:  # one window is the whole clip
        return [served] * len(MODES)

    def averaged(starts):
        return np.mean([score(frontend.select_window(logmel, energies, start=s)[0]) for s in sorted(set(starts))], 0)

    last = frames - frontend.FRAMES
    return [served, score(np.ascontiguousarray(logmel.T)), averaged([0, start, last]),
            averaged(list(range(0, last + 1, 50)) + [last])]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", required=True, help="cv runs with fold<k>.pt (several: also their average)")
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    args = ap.parse_args()
    torch.set_num_threads(1)

    xs, y, _ = train.load_split(args.data, crossval.ACTORS)
    actors = np.repeat(np.arange(1, 21), 60)
    names = [os.path.basename(os.path.normpath(r)) for r in args.runs] + (["ensemble"] if len(args.runs) > 1 else [])
    scores = {(name, mode): [] for name in names for mode in MODES}
    for fold, fold_actors in enumerate(crossval.FOLDS):
        held_out = np.flatnonzero(np.isin(actors, fold_actors))
        per_run = []
        for run in args.runs:
            model = load(run, fold)
            with torch.no_grad():
                per_run.append(np.array([logits_by_mode(model, xs[i]) for i in held_out]))  # clips x modes x 8
        if len(per_run) > 1:
            per_run.append(np.mean(per_run, axis=0))
        for name, logits in zip(names, per_run):
            for m, mode in enumerate(MODES):
                result = train.evaluate(logits[:, m], y[held_out])
                scores[name, mode].append((result["ravdess7"]["accuracy"], result["canonical"]["accuracy"]))
            print(f"fold {fold} {name:>12}: " + ", ".join(f"{mode} {scores[name, mode][-1][0]:.3f}" for mode in MODES),
                  flush=True)
    for (name, mode), values in scores.items():
        mean, sd = np.mean(values, 0), np.std(values, 0, ddof=1)
        print(f"mean {name:>12} {mode:>20}: ravdess7 {mean[0]:.3f} ± {sd[0]:.3f}, canonical {mean[1]:.3f} ± {sd[1]:.3f}")


if __name__ == "__main__":
    main()
