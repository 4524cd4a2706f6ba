#!/usr/bin/env python3
"""Writes corrupted copies of RAVDESS speech clips, keeping their names, for the production decoding path.

`er-audio-worker evaluate DIR` then scores the model on them exactly as the worker would see such recordings:
the noise, level, clipping, band and reverberation corruptions are written as 16-bit FLAC, and the codec ones
as the real lossy files (AAC in .m4a, MP3), which the worker decodes with FFmpeg.

Example: python3 training/ser/corrupt.py --kind white-10db --actors 17-20 --out /tmp/corrupt/white-10db
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corruptions  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/ravdess/speech-16k")
    ap.add_argument("--kind", required=True, choices=corruptions.KINDS)
    ap.add_argument("--actors", default="17-20", help="first-last actor")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    first, last = (int(v) for v in args.actors.split("-"))
    paths = [p for a in range(first, last + 1)
             for p in sorted(glob.glob(os.path.join(args.data, f"Actor_{a:02d}", "*.flac")))]
    clips = [sf.read(p, dtype="float32")[0] for p in paths]
    rng = np.random.default_rng(args.seed)
    for i, (path, x) in enumerate(zip(paths, clips)):
        pool = [o for k, o in enumerate(clips) if k != i]
        folder = os.path.join(args.out, os.path.basename(os.path.dirname(path)))
        os.makedirs(folder, exist_ok=True)
        stem = os.path.splitext(os.path.basename(path))[0]
        if args.kind in ("aac-32k", "mp3-64k"):
            extension = "m4a" if args.kind == "aac-32k" else "mp3"
            corruptions.codec_file(x, args.kind, os.path.join(folder, f"{stem}.{extension}"))
        else:
            y = corruptions.corrupt(x, args.kind, rng, pool)
            sf.write(os.path.join(folder, f"{stem}.flac"), np.clip(y, -1, 1), corruptions.SAMPLE_RATE, subtype="PCM_16")
    print(f"{len(paths)} clips ({args.kind}) in {args.out}")


if __name__ == "__main__":
    main()
