"""SER front end: log-mel features, exactly as specified for the Swift reimplementation.

Spec (16 kHz mono float32 samples in [-1, 1]):
  * frames of 400 samples, hop 160, no centre padding:
      n_frames = 1 + (N - 400) // 160 if N >= 400 else 0
  * periodic Hann window w[n] = 0.5 - 0.5 cos(2 pi n / 400)
  * windowed frame zero-padded at the end to 512, power spectrum |rfft|^2 (257 bins)
  * 64 triangular HTK-mel filters, 50..8000 Hz, 66 mel-equispaced edge points,
    bin k at k * 16000 / 512 Hz, weight max(0, min((f-lo)/(c-lo), (hi-f)/(hi-c))), no area normalisation
  * log-mel = ln(melpower + 1e-6); frame energy E_t = sum over the 64 bands of linear mel power
  * window of T = 300 frames: if n_frames <= T take all and pad at the end with ln(1e-6);
    else the start s in [0, n_frames - T] maximising sum_{t=s}^{s+T-1} E_t (lowest s on ties,
    float64 cumulative sums)
  * normalise the whole 64x300 window: (x - mean) / (std + 1e-5), population std
  * output (64, 300): row = mel band (low to high), column = time
"""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
FRAME_LENGTH = 400
HOP_LENGTH = 160
N_FFT = 512
N_MELS = 64
FMIN = 50.0
FMAX = 8000.0
LOG_OFFSET = 1e-6
FRAMES = 300
NORM_EPSILON = 1e-5


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def _hann() -> np.ndarray:
    n = np.arange(FRAME_LENGTH, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / FRAME_LENGTH)).astype(np.float32)


def _mel_filterbank() -> np.ndarray:
    """(257, 64) float32 weights."""
    pts = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2))
    freqs = np.arange(N_FFT // 2 + 1, dtype=np.float64) * SAMPLE_RATE / N_FFT
    fb = np.zeros((N_FFT // 2 + 1, N_MELS), dtype=np.float64)
    for i in range(N_MELS):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[:, i] = np.maximum(0.0, np.minimum(up, down))
    return fb.astype(np.float32)


WINDOW = _hann()
MEL_FB = _mel_filterbank()
PAD_VALUE = np.float32(np.log(np.float32(LOG_OFFSET)))


def n_frames_for(n_samples: int) -> int:
    return 1 + (n_samples - FRAME_LENGTH) // HOP_LENGTH if n_samples >= FRAME_LENGTH else 0


def mel_power(samples: np.ndarray) -> np.ndarray:
    """Linear mel power, (frames, 64) float32."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    nf = n_frames_for(x.shape[0])
    if nf == 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    idx = np.arange(FRAME_LENGTH)[None, :] + HOP_LENGTH * np.arange(nf)[:, None]
    frames = x[idx] * WINDOW[None, :]
    spec = np.fft.rfft(frames, n=N_FFT, axis=1)
    power = (spec.real.astype(np.float32) ** 2 + spec.imag.astype(np.float32) ** 2).astype(np.float32)
    return (power @ MEL_FB).astype(np.float32)


def log_mel_and_energy(samples: np.ndarray):
    """Returns (log-mel (frames, 64) float32, energies (frames,) float64)."""
    mp = mel_power(samples)
    energies = mp.astype(np.float64).sum(axis=1)
    logmel = np.log(mp + np.float32(LOG_OFFSET)).astype(np.float32)
    return logmel, energies


def log_mel(samples: np.ndarray) -> np.ndarray:
    """ln(mel power + 1e-6), shape (frames, 64) float32."""
    return log_mel_and_energy(samples)[0]


def frame_energies(samples: np.ndarray) -> np.ndarray:
    return log_mel_and_energy(samples)[1]


def select_start(energies: np.ndarray, frames: int = FRAMES) -> int:
    """Start frame of the max-energy window (0 when n_frames <= frames); lowest start on ties."""
    e = np.asarray(energies, dtype=np.float64)
    n = e.shape[0]
    if n <= frames:
        return 0
    c = np.concatenate([[0.0], np.cumsum(e)])
    sums = c[frames:] - c[: n - frames + 1]
    return int(np.argmax(sums))  # argmax returns the first maximum


def select_window(logmel: np.ndarray, energies: np.ndarray, frames: int = FRAMES, start: int | None = None):
    """(frames_total, 64) log-mel -> (64, frames) raw (un-normalised) window, plus the start used."""
    n = logmel.shape[0]
    if n <= frames:
        out = np.full((frames, N_MELS), PAD_VALUE, dtype=np.float32)
        out[:n] = logmel
        s = 0
    else:
        s = select_start(energies, frames) if start is None else int(start)
        out = logmel[s : s + frames]
    return np.ascontiguousarray(out.T, dtype=np.float32), s


def normalise(window: np.ndarray) -> np.ndarray:
    w64 = window.astype(np.float64)
    mean = w64.mean()
    std = w64.std()
    return ((w64 - mean) / (std + NORM_EPSILON)).astype(np.float32)


def features(samples: np.ndarray) -> np.ndarray:
    """Deterministic serving features, (64, 300) float32."""
    logmel, energies = log_mel_and_energy(samples)
    window, _ = select_window(logmel, energies)
    return normalise(window)
