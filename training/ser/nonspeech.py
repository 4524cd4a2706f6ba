#!/usr/bin/env python3
"""Generates audio that holds sound but no speech, to measure the speech-presence check's false accepts.

Two sets with different seeds and parameter ranges: set A to choose the thresholds, set B to check them.
Each category has `--count` files of `--seconds` at 16 kHz mono, 16-bit WAV:

  hiss      near-silence: a recording's noise floor (white noise at -66 to -50 dBFS)
  white, pink, brown   steady noise at -30 to -10 dBFS
  hum       mains hum: 50 or 60 Hz and its harmonics, with a little noise
  tone      a steady sine (100 Hz to 4 kHz), sometimes with harmonics
  beeps     tones switching on and off (dial tones, alarms)
  sweep     a tone gliding in frequency (a chirp)
  melody    a piano-like melody: harmonic notes with struck envelopes on a scale
  chords    held three-note chords
  drums     percussive noise bursts at a tempo
  music     melody, chords and drums together
  vibrato   a sustained instrument-like melody with vibrato (the hardest: its pitch moves like a voice's)

Example: python3 training/ser/nonspeech.py --set A --out /tmp/nonspeech-A
"""
from __future__ import annotations

import argparse
import os
import wave

import numpy as np

RATE = 16000
CATEGORIES = ["hiss", "white", "pink", "brown", "hum", "tone", "beeps", "sweep", "melody", "chords", "drums",
              "music", "vibrato"]


def db(level):
    return 10.0 ** (level / 20.0)


def coloured(rng, n, exponent):
    """Noise with power spectrum ~ 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    x = np.fft.irfft(spectrum / f ** (exponent / 2), n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def harmonic(f0, t, harmonics, rng):
    amps = [1.0 / k ** rng.uniform(0.8, 1.6) for k in range(1, harmonics + 1)]
    return sum(a * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
               for k, a in zip(range(1, harmonics + 1), amps) if k * f0 < RATE / 2)


def scale_note(rng, low, high):
    """A note of a major scale between low and high Hz."""
    steps = [0, 2, 4, 5, 7, 9, 11]
    base = rng.uniform(low, low * 1.5)
    octave = int(rng.integers(0, max(1, int(np.log2(high / base)) + 1)))
    return base * 2 ** (octave + steps[int(rng.integers(0, 7))] / 12)


def melody(rng, n, vibrato=False):
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.uniform(0.15, 0.6) * RATE) if not vibrato else int(rng.uniform(0.4, 1.2) * RATE)
        t = np.arange(min(length, n - pos)) / RATE
        f0 = scale_note(rng, 130, 700)
        if vibrato:  # a sustained note with vibrato: 4.5-6.5 Hz, +-0.2-0.6 semitone
            rate, depth = rng.uniform(4.5, 6.5), rng.uniform(0.2, 0.6)
            phase = 2 * np.pi * np.cumsum(f0 * 2 ** (depth / 12 * np.sin(2 * np.pi * rate * t))) / RATE
            note = sum(np.sin(k * phase) / k for k in range(1, 6))
            env = np.minimum(1, t / 0.05) * np.minimum(1, (t[-1] - t + 1e-3) / 0.05)
        else:
            note = harmonic(f0, t, 6, rng)
            env = np.minimum(1, t / 0.005) * np.exp(-t * rng.uniform(3, 8))
        out[pos:pos + len(t)] += note * env
        pos += len(t)
    return out


def chords(rng, n):
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = min(int(rng.uniform(0.5, 1.5) * RATE), n - pos)
        t = np.arange(length) / RATE
        root = scale_note(rng, 110, 330)
        env = np.minimum(1, t / 0.02) * np.exp(-t * rng.uniform(0.5, 2))
        out[pos:pos + length] += sum(harmonic(root * 2 ** (s / 12), t, 4, rng) for s in (0, 4, 7)) * env
        pos += length
    return out


def drums(rng, n):
    out = np.zeros(n)
    beat = int(RATE * 60 / rng.uniform(80, 160) / 2)
    for start in range(0, n, beat):
        length = min(int(0.15 * RATE), n - start)
        t = np.arange(length) / RATE
        hit = rng.standard_normal(length) * np.exp(-t * rng.uniform(20, 60))
        if rng.random() < 0.4:  # a kick: a falling low sine
            hit += 2 * np.sin(2 * np.pi * (60 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 15)
        out[start:start + length] += hit
    return out


def generate(category, rng, n):
    t = np.arange(n) / RATE
    if category == "hiss":
        return rng.standard_normal(n) * db(rng.uniform(-66, -50))
    if category in ("white", "pink", "brown"):
        x = coloured(rng, n, {"white": 0, "pink": 1, "brown": 2}[category])
    elif category == "hum":
        mains = 50 if rng.random() < 0.5 else 60
        x = sum(np.sin(2 * np.pi * k * mains * t + rng.uniform(0, 6.28)) / k ** rng.uniform(0.5, 1.5)
                for k in range(1, 8)) + 0.05 * rng.standard_normal(n)
    elif category == "tone":
        f = np.exp(rng.uniform(np.log(100), np.log(4000)))
        x = harmonic(f, t, int(rng.integers(1, 4)), rng)
    elif category == "beeps":
        f = rng.uniform(350, 1500)
        period = rng.uniform(0.2, 1.0)
        x = np.sin(2 * np.pi * f * t) * ((t % period) < period * rng.uniform(0.3, 0.7))
    elif category == "sweep":
        f0, f1 = np.exp(rng.uniform(np.log(80), np.log(3000), 2))
        x = np.sin(2 * np.pi * np.cumsum(np.linspace(f0, f1, n)) / RATE)
    elif category == "melody":
        x = melody(rng, n)
    elif category == "chords":
        x = chords(rng, n)
    elif category == "drums":
        x = drums(rng, n)
    elif category == "music":
        parts = [melody(rng, n), chords(rng, n), drums(rng, n)]
        x = sum(p / (np.sqrt(np.mean(p ** 2)) + 1e-12) * g for p, g in zip(parts, (1.0, 0.6, 0.5)))
    elif category == "vibrato":
        x = melody(rng, n, vibrato=True)
    else:
        raise ValueError(category)
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-12) * db(rng.uniform(-30, -10))
    return np.clip(x, -1, 1)


def write_wav(path, x):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["A", "B"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=20, help="files per category")
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    rng = np.random.default_rng({"A": 11, "B": 23}[args.set])
    n = int(args.seconds * RATE)
    for category in CATEGORIES:
        folder = os.path.join(args.out, category)
        os.makedirs(folder, exist_ok=True)
        for i in range(args.count):
            write_wav(os.path.join(folder, f"{category}-{args.set}{i:02d}.wav"), generate(category, rng, n))
    print(f"{len(CATEGORIES) * args.count} files in {args.out}")


if __name__ == "__main__":
    main()
