"""Corruptions of 16 kHz speech that real archive recordings show, for evaluation and training.

Every corruption is a function of the clean samples (float32 in [-1, 1]) and a seeded generator, so a figure can be
reproduced. The codec round trips run the ffmpeg command-line tool (Debian's `ffmpeg`) and are cached per clip,
because they are deterministic and slow.

Kinds (``KINDS``): white noise and babble-like noise at 20, 10 and 5 dB SNR, level -30 dB, clipping, the 8 kHz
telephone band, AAC 32 kb/s and MP3 64 kb/s round trips, and room reverberation from a synthetic impulse response.
"""
from __future__ import annotations

import hashlib
import math
import os
import subprocess
import tempfile

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

SAMPLE_RATE = 16000

KINDS = [
    "clean",
    "white-20db", "white-10db", "white-5db",
    "babble-20db", "babble-10db", "babble-5db",
    "level-30db", "clipping", "telephone", "aac-32k", "mp3-64k", "reverb",
]


def rms(x: np.ndarray) -> float:
    return math.sqrt(float(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def add_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """x plus noise scaled so that the speech-to-noise power ratio is snr_db (speech power over the whole clip)."""
    noise = noise[:len(x)].astype(np.float64)
    scale = rms(x) / (rms(noise) * 10.0 ** (snr_db / 20.0))
    return (x + noise * scale).astype(np.float32)


def white(x, snr_db, rng):
    return add_at_snr(x, rng.standard_normal(len(x)), snr_db)


def babble(x, snr_db, rng, pool):
    """Babble-like noise: six other utterances from `pool`, each at a random offset and looped, summed."""
    noise = np.zeros(len(x))
    for i in rng.choice(len(pool), size=min(6, len(pool)), replace=False):
        other = pool[int(i)]
        shift = int(rng.integers(0, len(other)))
        reps = int(math.ceil((len(x) + shift) / len(other))) + 1
        noise += np.tile(other, reps)[shift:shift + len(x)] / (rms(other) + 1e-9)
    return add_at_snr(x, noise, snr_db)


def level(x, db):
    return (x * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def clipping(x, fraction=0.1):
    """Hard clipping at `fraction` of the clip's peak (an overdriven recording)."""
    limit = float(np.max(np.abs(x))) * fraction + 1e-9
    return np.clip(x, -limit, limit).astype(np.float32)


_TELEPHONE = butter(6, [300.0, 3400.0], btype="bandpass", fs=8000, output="sos")


def telephone(x):
    """The narrow band of a phone line: down to 8 kHz, band-pass 300-3400 Hz, back up to 16 kHz."""
    narrow = resample_poly(x.astype(np.float64), 1, 2)
    narrow = sosfilt(_TELEPHONE, narrow)
    return resample_poly(narrow, 2, 1)[:len(x)].astype(np.float32)


def impulse_response(rng, rt60=0.5, length=0.6):
    """A synthetic room: a direct path, then exponentially decaying noise reaching -60 dB after rt60 seconds."""
    n = int(length * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ir = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    ir[:int(0.005 * SAMPLE_RATE)] = 0.0  # first reflections arrive after ~5 ms
    ir[0] = 1.0
    return ir / np.sqrt(np.sum(ir ** 2))


def reverb(x, rng, rt60=0.5):
    wet = fftconvolve(x.astype(np.float64), impulse_response(rng, rt60))[:len(x)]
    return (wet * (rms(x) / rms(wet))).astype(np.float32)


_CODECS = {
    "aac-32k": ("m4a", ["-c:a", "aac", "-b:a", "32k"]),
    "mp3-64k": ("mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),
}


def codec_file(x, kind, path):
    """Encodes the clip with the codec of `kind` into `path` (what a lossy archive file holds)."""
    _, options = _CODECS[kind]
    with tempfile.NamedTemporaryFile(suffix=".f32") as raw:
        raw.write(np.ascontiguousarray(x, dtype="<f4").tobytes())
        raw.flush()
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1",
                        "-i", raw.name, *options, path], check=True)


def codec(x, kind, cache_dir=None):
    """Round trip through a lossy codec: encode with ffmpeg, decode back to 16 kHz mono float32."""
    key = hashlib.sha256(np.ascontiguousarray(x, dtype="<f4").tobytes()).hexdigest()[:24]
    if cache_dir:
        cached = os.path.join(cache_dir, f"{kind}-{key}.npy")
        if os.path.exists(cached):
            return np.load(cached)
    extension, _ = _CODECS[kind]
    with tempfile.TemporaryDirectory() as tmp:
        encoded = os.path.join(tmp, f"clip.{extension}")
        codec_file(x, kind, encoded)
        out = subprocess.run(["ffmpeg", "-v", "error", "-i", encoded, "-f", "f32le", "-ar", str(SAMPLE_RATE),
                              "-ac", "1", "-"], check=True, capture_output=True).stdout
    y = np.frombuffer(out, dtype="<f4").astype(np.float32)
    y = np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]
    if cache_dir:  # written whole, then renamed: concurrent runs may share the cache
        os.makedirs(cache_dir, exist_ok=True)
        partial = f"{cached}.{os.getpid()}.npy"
        np.save(partial, y)
        os.replace(partial, cached)
    return y


def corrupt(x, kind, rng, pool=None, cache_dir=None):
    """The clip under corruption `kind` (one of KINDS). `pool`: other utterances, for babble."""
    if kind == "clean":
        return x
    family, _, amount = kind.partition("-")
    if family == "white":
        return white(x, float(amount[:-2]), rng)
    if family == "babble":
        return babble(x, float(amount[:-2]), rng, pool)
    if kind == "level-30db":
        return level(x, -30.0)
    if kind == "clipping":
        return clipping(x)
    if kind == "telephone":
        return telephone(x)
    if kind in _CODECS:
        return codec(x, kind, cache_dir)
    if kind == "reverb":
        return reverb(x, rng)
    raise ValueError(f"unknown corruption {kind!r}; one of {', '.join(KINDS)}")
