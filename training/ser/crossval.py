#!/usr/bin/env python3
"""Actor-grouped cross-validation of an SER training recipe on RAVDESS actors 1-20, with a corruption table.

Five folds of four actors (1-4, 5-8, ..., 17-20): each fold trains on the other 16 actors and is scored on its own 4
under both protocols (`ravdess7`, `canonical`), clean and under every corruption in `corruptions.KINDS`. Actors 21-24
stay unseen. `--final` then trains the recipe on all 20 actors (the model to ship; nothing is held out for it).

Examples (from the repository root):
  python3 training/ser/crossval.py --name cv-base                      # the shipped a2 recipe
  python3 training/ser/crossval.py --name cv-robust --robust --mixup 0.4 --balance --final

Writes training/ser/runs/<name>/: log.txt, fold<k>.pt, cv.json (per fold, mean and spread), final.pt.
Folds can run side by side (`--folds 0,1,2` and `--folds 3,4 --final` under two names); then
`crossval.py --merge NAME PART...` joins them into one run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corruptions  # noqa: E402
import frontend  # noqa: E402
import train  # noqa: E402

ACTORS = range(1, 21)
FOLDS = [list(range(4 * k + 1, 4 * k + 5)) for k in range(5)]
HERE = os.path.dirname(os.path.abspath(__file__))
CODEC_CACHE = os.path.join(HERE, "cache", "codecs")


def robust_wave(x, rng, args, pool):
    """Training augmentation with the corruptions that real recordings bring, then the standard perturbations."""
    if rng.random() < args.p_corrupt:
        kinds = ["babble", "reverb", "telephone", "codec", "clipping"]
        if args.babble_share is None:  # all five alike
            choice = rng.choice(kinds)
        else:
            rest = (1.0 - args.babble_share) / (len(kinds) - 1)
            choice = rng.choice(kinds, p=[args.babble_share] + [rest] * (len(kinds) - 1))
        if choice == "babble":
            x = corruptions.babble(x, rng.uniform(args.babble_snr_lo, args.babble_snr_hi), rng, pool)
        elif choice == "reverb":
            x = corruptions.reverb(x, rng, rt60=rng.uniform(0.2, 0.9))
        elif choice == "telephone":
            x = corruptions.telephone(x)
        elif choice == "codec":
            x = corruptions.codec(x, str(rng.choice(["aac-32k", "mp3-64k"])), CODEC_CACHE)
        else:
            x = corruptions.clipping(x, rng.uniform(0.05, 0.5))
    return train.augment_wave(x, rng, args)


def add_corruption_arguments(ap, p_corrupt):
    """The options of `robust_wave`: how often a training variant is corrupted, and how much of that is babble."""
    ap.add_argument("--p-corrupt", type=float, default=p_corrupt, help="chance that a variant is corrupted")
    ap.add_argument("--babble-share", type=float, default=None,
                    help="share of the corrupted variants that get babble (default: all five kinds alike)")
    ap.add_argument("--babble-snr-lo", type=float, default=3.0, help="babble SNR range for training, dB")
    ap.add_argument("--babble-snr-hi", type=float, default=30.0)


def build_bank(xs, groups, rng, args, log):
    """K log-mel variants per clip (variant 0 clean). Babble comes from clips of the same fold group only, so a
    validation fold never lends its voices to a training clip."""
    t0 = time.time()
    by_group = {g: [x for x, h in zip(xs, groups) if h == g] for g in set(groups)}
    bank = []
    for x, g in zip(xs, groups):
        variants = []
        for k in range(args.bank):
            if k == 0:
                w = x
            elif args.robust:
                w = robust_wave(x, rng, args, by_group[g])
            else:
                w = train.augment_wave(x, rng, args)
            lm, en = frontend.log_mel_and_energy(w)
            variants.append((lm.astype(np.float16), en.astype(np.float64)))
        bank.append(variants)
    log(f"feature bank: {len(xs)} clips x {args.bank} variants in {time.time() - t0:.1f}s")
    return bank


def corruption_table(model, xs, y, seed):
    """Both protocols per corruption kind for clips xs (one fold's validation actors)."""
    table = {}
    for j, kind in enumerate(corruptions.KINDS):
        rng = np.random.default_rng(seed * 100 + j)
        feats = []
        for i, x in enumerate(xs):
            pool = [o for k, o in enumerate(xs) if k != i]
            feats.append(frontend.features(corruptions.corrupt(x, kind, rng, pool, CODEC_CACHE)))
        m = train.evaluate(train.predict(model, np.stack(feats)), y)
        table[kind] = {"ravdess7": m["ravdess7"]["accuracy"], "canonical": m["canonical"]["accuracy"]}
    return table


def summarise(values):
    a = np.array(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "min": float(a.min()), "max": float(a.max())}


def write_summary(result, path, log):
    """Mean and spread over the folds done, clean and per corruption, into result["summary"] and `path`."""
    done = [result["folds"][f] for f in sorted(result["folds"])]
    if not done:
        return
    result["summary"] = {
        "folds": len(done),
        "ravdess7": summarise([f["metrics"]["ravdess7"]["accuracy"] for f in done]),
        "canonical": summarise([f["metrics"]["canonical"]["accuracy"] for f in done]),
        "ravdess7_macro_f1": summarise([f["metrics"]["ravdess7"]["macro_f1"] for f in done]),
        "canonical_macro_f1": summarise([f["metrics"]["canonical"]["macro_f1"] for f in done]),
        "corruptions": {kind: {p: summarise([f["corruptions"][kind][p] for f in done])
                               for p in ("ravdess7", "canonical")} for kind in corruptions.KINDS},
    }
    json.dump(result, open(path, "w"), indent=1)
    s = result["summary"]
    log(f"CV over {len(done)} folds: ravdess7 {s['ravdess7']['mean']:.4f} +- {s['ravdess7']['std']:.4f}, "
        f"canonical {s['canonical']['mean']:.4f} +- {s['canonical']['std']:.4f}")


def merge(name, parts):
    """One run from runs that each did some folds of the same recipe (run side by side on two cores)."""
    run_dir = os.path.join(HERE, "runs", name)
    os.makedirs(run_dir, exist_ok=True)
    result = {"folds": {}, "merged_from": parts}
    for part in parts:
        other = json.load(open(os.path.join(HERE, "runs", part, "cv.json")))
        result.setdefault("args", other["args"])
        for fold, value in other["folds"].items():
            result["folds"][fold] = value
            shutil.copyfile(os.path.join(HERE, "runs", part, f"fold{fold}.pt"), os.path.join(run_dir, f"fold{fold}.pt"))
        final = os.path.join(HERE, "runs", part, "final.pt")
        if os.path.exists(final):
            shutil.copyfile(final, os.path.join(run_dir, "final.pt"))
    write_summary(result, os.path.join(run_dir, "cv.json"), print)


def run_folds(args, xs, y, actors, bank, widths, reps, run_dir, log, init_for=None):
    """Trains and scores every fold of `args.folds` not yet in runs/<name>/cv.json (fold<k>.pt, metrics, corruption
    table), then writes the summary. `init_for(k)`, when given, returns the weights fold k starts from."""
    result_path = os.path.join(run_dir, "cv.json")
    result = json.load(open(result_path)) if os.path.exists(result_path) else {"args": vars(args), "folds": {}}
    for k in (int(v) for v in args.folds.split(",") if v):
        if str(k) in result["folds"]:
            log(f"fold {k}: already done")
            continue
        val = np.isin(actors, FOLDS[k])
        tr = np.flatnonzero(~val)
        va = np.flatnonzero(val)
        feats_va = np.stack([frontend.features(xs[i]) for i in va])
        log(f"fold {k}: validation actors {FOLDS[k]}, train {len(tr)} clips, validation {len(va)} clips")
        model, hist = train.train_member(args.seed, widths, reps, [bank[i] for i in tr], y[tr], feats_va, y[va],
                                         args, log, init=init_for(k) if init_for else None)
        torch.save(model.state_dict(), os.path.join(run_dir, f"fold{k}.pt"))
        metrics = train.evaluate(train.predict(model, feats_va), y[va])
        table = corruption_table(model, [xs[i] for i in va], y[va], args.seed + k)
        log(f"fold {k}: ravdess7 {metrics['ravdess7']['accuracy']:.4f} canonical {metrics['canonical']['accuracy']:.4f}"
            f" | " + " ".join(f"{kind} {v['ravdess7']:.3f}" for kind, v in table.items()))
        result["folds"][str(k)] = {"actors": FOLDS[k], "metrics": metrics, "corruptions": table, "history": hist}
        json.dump(result, open(result_path, "w"), indent=1)
    write_summary(result, result_path, log)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--merge":  # crossval.py --merge NAME PART...
        return merge(sys.argv[2], sys.argv[3:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--name", required=True)
    ap.add_argument("--folds", default="0,1,2,3,4", help="which folds to run (0 = actors 1-4, ...; '' for none)")
    ap.add_argument("--final", action="store_true", help="then train on all 20 actors (final.pt)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    train.add_recipe_arguments(ap, head=256)
    ap.add_argument("--robust", action="store_true", help="train with babble, reverb, telephone, codec, clipping")
    add_corruption_arguments(ap, p_corrupt=0.6)
    args = ap.parse_args()

    torch.set_num_threads(1)
    run_dir = os.path.join(HERE, "runs", args.name)
    log = train.open_log(run_dir)
    log(f"args: {vars(args)}")
    t0 = time.time()
    xs, y, _ = train.load_split(args.data, ACTORS)
    actors = np.repeat(np.array(list(ACTORS)), 60)
    assert len(actors) == len(xs)
    groups = [(a - 1) // 4 for a in actors]
    bank = build_bank(xs, groups, np.random.default_rng(args.seed + 1000), args, log)
    widths = tuple(int(v) for v in args.widths.split(","))
    reps = tuple(int(v) for v in args.reps.split(","))

    run_folds(args, xs, y, actors, bank, widths, reps, run_dir, log)
    if args.final:
        log("final: all 20 actors")
        model, _ = train.train_member(args.seed, widths, reps, bank, y, None, None, args, log)
        torch.save(model.state_dict(), os.path.join(run_dir, "final.pt"))
    log(f"total {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
