"""Weight-space interpolation between the converted weights and a fine-tuned checkpoint (WiSE-FT):
theta(a) = (1-a) * converted + a * finetuned, BatchNorm running statistics interpolated the same way.
Evaluates each alpha on PublicTest (plain and flip-averaged) and saves the best as a checkpoint.

    python training/fer/soup.py --a training/fer/runs/converted.pt --b training/fer/runs/ftB/last.pt \
        --out training/fer/runs/soup.pt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LABELS, MiniXception, load_split, metrics, predict_logits  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--alphas", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--data", default="../shared/data/fer2013")
    ap.add_argument("--cache", default="training/fer/cache")
    ap.add_argument("--select", choices=["plain", "tta"], default="tta")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    sa = torch.load(args.a, map_location="cpu")["state_dict"]
    sb = torch.load(args.b, map_location="cpu")["state_dict"]
    xv, yv, _ = load_split(args.data, "public_test", args.cache)
    rows, best = [], None
    for a in [float(s) for s in args.alphas.split(",")]:
        sd = {k: ((1 - a) * sa[k].float() + a * sb[k].float()).to(sb[k].dtype) if sb[k].is_floating_point() else sb[k]
              for k in sb if k in sa}
        m = MiniXception()
        m.load_state_dict(sd, strict=False)
        m.eval()
        p = metrics(yv, predict_logits(m, xv).argmax(1))
        t = metrics(yv, predict_logits(m, xv, hflip_tta=True).argmax(1))
        r = {"alpha": a, "acc": p["accuracy"], "macro_f1": p["macro_f1"], "acc_tta": t["accuracy"], "macro_f1_tta": t["macro_f1"]}
        rows.append(r)
        print(json.dumps(r), flush=True)
        key = r["acc"] if args.select == "plain" else r["acc_tta"]
        if best is None or key > best[0]:
            best = (key, a, sd)
    print(f"best alpha {best[1]} ({args.select} acc {best[0]:.4f})")
    torch.save({"state_dict": best[2], "labels": LABELS, "alpha": best[1], "a": args.a, "b": args.b}, args.out)
    Path(args.out).with_suffix(".json").write_text(json.dumps({"rows": rows, "best_alpha": best[1]}, indent=1))


if __name__ == "__main__":
    main()
