#!/usr/bin/env python3
"""Fine-tunes the fold models of a clean cross-validation run with the corruptions of real recordings, and scores
each on its own validation actors, clean and under every corruption (the same table as crossval.py).

The question it answers: can a model trained clean learn robustness in a few epochs at a low learning rate without
losing its clean accuracy (training with corruptions from scratch, `crossval.py --robust`, lost 6 points)?

  python3 training/ser/finetune_cv.py --base cv-base --name ft-robust --folds 0,1,2,3,4 --epochs 8 --lr 5e-4 \
      --gain-lo -30 --p-corrupt 0.5 --final

Writes training/ser/runs/<name>/: log.txt, fold<k>.pt, cv.json (per fold, mean and spread), and with `--final`
final.pt (the base run's final.pt, trained on all 20 actors, fine-tuned the same way on all 20).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crossval  # noqa: E402
import train  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--base", required=True, help="the cross-validation run whose fold<k>.pt to start from")
    ap.add_argument("--name", required=True)
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    train.add_recipe_arguments(ap, head=256)
    crossval.add_corruption_arguments(ap, p_corrupt=0.5)
    ap.add_argument("--final", action="store_true", help="then fine-tune the base run's final.pt on all 20 actors")
    args = ap.parse_args()
    args.robust = True

    torch.set_num_threads(1)
    base = json.load(open(os.path.join(crossval.HERE, "runs", args.base, "cv.json")))
    for key in train.ARCHITECTURE:  # the architecture comes from the base run
        setattr(args, key, base["args"][key])
    run_dir = os.path.join(crossval.HERE, "runs", args.name)
    log = train.open_log(run_dir)
    log(f"args: {vars(args)}")
    t0 = time.time()
    xs, y, _ = train.load_split(args.data, crossval.ACTORS)
    actors = np.repeat(np.array(list(crossval.ACTORS)), 60)
    groups = [(a - 1) // 4 for a in actors]
    bank = crossval.build_bank(xs, groups, np.random.default_rng(args.seed + 2000), args, log)
    widths = tuple(int(v) for v in args.widths.split(","))
    reps = tuple(int(v) for v in args.reps.split(","))

    crossval.run_folds(args, xs, y, actors, bank, widths, reps, run_dir, log,
                       init_for=lambda k: torch.load(os.path.join(crossval.HERE, "runs", args.base, f"fold{k}.pt")))
    if args.final:
        log(f"final: from {args.base}/final.pt, all 20 actors")
        init = torch.load(os.path.join(crossval.HERE, "runs", args.base, "final.pt"))
        model, _ = train.train_member(args.seed, widths, reps, bank, y, None, None, args, log, init=init)
        torch.save(model.state_dict(), os.path.join(run_dir, "final.pt"))
    log(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
