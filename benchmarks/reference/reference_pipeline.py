#!/usr/bin/env python3
"""Python re-implementation of the reference project's audio+video emotion pipeline, as a speed baseline.

Processes every *.mp4 under CLIP_DIR (recursive) through both streams, one clip after the other, in one
single-threaded process:

  video: cv2.VideoCapture reads (decodes) every frame; frames i >= 20 with (i - 20) % 3 == 0 are converted to
         gray (cv2.cvtColor BGR2GRAY) at full resolution and searched with the Haar cascade
         haarcascade_frontalface_default.xml (detectMultiScale(gray, scaleFactor=1.12, minNeighbors=9)); the
         largest face is cropped from the gray frame, resized to 112x112, scaled to [0, 1], and classified by a
         2D CNN (one inference per face crop, batch 1).
  audio: librosa.load(path, sr=48000, offset=0.5, duration=3.0) (librosa's soundfile backend cannot read mp4,
         so it falls back to audioread, which decodes the AAC track with the ffmpeg CLI), zero-padded to 3 s,
         librosa.feature.melspectrogram(n_fft=1024, n_mels=128, fmin=50) -> librosa.power_to_db(ref=np.max),
         classified by a 2D CNN on the 128-bin log-mel (one inference per clip).

Models have random weights (fixed seed): this measures speed, not accuracy.

  python reference_pipeline.py CLIP_DIR [--repeat N] [--json]
"""

import os

# Single-threaded everywhere, set before numpy / torch / cv2 load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import librosa  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

# librosa warns on every mp4 that soundfile failed and it fell back to audioread (deprecated path); expected here.
warnings.filterwarnings("ignore", message="PySoundFile failed")
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning, module="librosa")

# ---------------------------------------------------------------- parameters (the reference project's)
FIRST_SAMPLED_FRAME = 20
FRAME_STEP = 3
SCALE_FACTOR = 1.12
MIN_NEIGHBORS = 9
FACE_SIZE = 112
FACE_CLASSES = 7

SAMPLE_RATE = 48000
AUDIO_OFFSET_S = 0.5
AUDIO_DURATION_S = 3.0
N_FFT = 1024
N_MELS = 128
FMIN = 50.0
AUDIO_CLASSES = 8

DEFAULT_CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"

STAGES = ("video_read_decode", "video_gray_haar", "video_crop_resize", "video_face_inference",
          "audio_load_resample", "audio_mel", "audio_inference")


# ---------------------------------------------------------------- models (Keras-notebook style, in torch)
def conv_block(cin, cout, dropout=0.25):
    """Conv2D(3x3, same) -> BatchNorm -> ReLU -> MaxPool(2) -> Dropout."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout(dropout),
    )


class AudioCNN(nn.Module):
    """2D CNN on the (1, 128, T) log-mel: conv blocks 32-64-128-256, Flatten, Dense 256, Dense n_classes."""

    def __init__(self, n_frames, n_classes=AUDIO_CLASSES):
        super().__init__()
        self.features = nn.Sequential(conv_block(1, 32), conv_block(32, 64), conv_block(64, 128),
                                      conv_block(128, 256))
        flat = 256 * (N_MELS // 16) * (n_frames // 16)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(flat, 256), nn.BatchNorm1d(256),
                                        nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(256, n_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class FaceCNN(nn.Module):
    """2D CNN on (1, 112, 112) gray face crops: conv blocks 64-128-256-512, Flatten, Dense 512, Dense 7."""

    def __init__(self, n_classes=FACE_CLASSES):
        super().__init__()
        self.features = nn.Sequential(conv_block(1, 64), conv_block(64, 128), conv_block(128, 256),
                                      conv_block(256, 512))
        flat = 512 * (FACE_SIZE // 16) ** 2
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(flat, 512), nn.BatchNorm1d(512),
                                        nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(512, n_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def n_mel_frames():
    # librosa.feature.melspectrogram: centred STFT, default hop_length 512 -> 282 frames for 3 s at 48 kHz
    return 1 + int(round(AUDIO_DURATION_S * SAMPLE_RATE)) // 512


def macs(model, shape):
    """Multiply-accumulates of one forward pass (conv + linear layers), for the report."""
    total = 0
    hooks = []

    def conv_hook(m, inp, out):
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, inp, out):
        nonlocal total
        total += m.in_features * m.out_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    with torch.no_grad():
        model(torch.zeros(shape))
    for h in hooks:
        h.remove()
    return total


# ---------------------------------------------------------------- the two streams
class Pipeline:
    def __init__(self, cascade_path):
        self.cascade = cv2.CascadeClassifier(cascade_path)
        if self.cascade.empty():
            raise SystemExit(f"cannot load Haar cascade {cascade_path}")
        torch.manual_seed(0)
        self.frames = n_mel_frames()
        self.audio_model = AudioCNN(self.frames).eval()
        self.face_model = FaceCNN().eval()

    def video(self, path, t):
        """Returns (frames decoded, frames sampled, faces found); adds stage seconds into t."""
        t0 = time.perf_counter()
        cap = cv2.VideoCapture(str(path))
        t["video_read_decode"] += time.perf_counter() - t0
        if not cap.isOpened():
            raise RuntimeError("VideoCapture cannot open the file")
        index = sampled = faces = 0
        predictions = []
        try:
            while True:
                t0 = time.perf_counter()
                ok, frame = cap.read()
                t["video_read_decode"] += time.perf_counter() - t0
                if not ok:
                    break
                i = index
                index += 1
                if i < FIRST_SAMPLED_FRAME or (i - FIRST_SAMPLED_FRAME) % FRAME_STEP != 0:
                    continue
                sampled += 1

                t0 = time.perf_counter()
                gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                boxes = self.cascade.detectMultiScale(gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS)
                t["video_gray_haar"] += time.perf_counter() - t0
                if len(boxes) == 0:
                    continue
                faces += 1

                t0 = time.perf_counter()
                x, y, w, h = max(boxes, key=lambda b: int(b[2]) * int(b[3]))
                crop = cv2.resize(gray[y:y + h, x:x + w], (FACE_SIZE, FACE_SIZE))
                tensor = torch.from_numpy(crop.astype(np.float32) / 255.0).reshape(1, 1, FACE_SIZE, FACE_SIZE)
                t["video_crop_resize"] += time.perf_counter() - t0

                t0 = time.perf_counter()
                with torch.no_grad():
                    probs = torch.softmax(self.face_model(tensor), dim=1)
                predictions.append(probs[0].numpy())
                t["video_face_inference"] += time.perf_counter() - t0
        finally:
            cap.release()
        return index, sampled, faces

    def audio(self, path, t):
        """Returns the number of samples loaded (before padding); adds stage seconds into t."""
        t0 = time.perf_counter()
        y, _ = librosa.load(str(path), sr=SAMPLE_RATE, offset=AUDIO_OFFSET_S, duration=AUDIO_DURATION_S)
        loaded = len(y)
        target = int(round(AUDIO_DURATION_S * SAMPLE_RATE))
        if loaded < target:
            y = np.pad(y, (0, target - loaded))
        else:
            y = y[:target]
        t["audio_load_resample"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=FMIN)
        log_mel = librosa.power_to_db(mel, ref=np.max)
        tensor = torch.from_numpy(log_mel.astype(np.float32)).reshape(1, 1, N_MELS, log_mel.shape[1])
        t["audio_mel"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        with torch.no_grad():
            probs = torch.softmax(self.audio_model(tensor), dim=1)
        _ = probs[0].numpy()
        t["audio_inference"] += time.perf_counter() - t0
        return loaded

    def clip(self, path):
        t = dict.fromkeys(STAGES, 0.0)
        info = {"path": str(path)}
        t0 = time.perf_counter()
        try:
            info["frames"], info["sampled"], info["faces"] = self.video(path, t)
        except Exception as e:  # noqa: BLE001 - a broken clip is reported, the others still run
            info["video_error"] = str(e)
        try:
            info["audio_samples"] = self.audio(path, t)
        except Exception as e:  # noqa: BLE001
            info["audio_error"] = str(e)
        info["seconds"] = time.perf_counter() - t0
        return info, t


def cpu_seconds():
    """User + system CPU seconds of this process and its reaped children (audioread's ffmpeg processes)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip_dir", type=Path)
    ap.add_argument("--repeat", type=int, default=1, help="process the whole set N times (default 1)")
    ap.add_argument("--json", action="store_true", help="print one JSON summary object as the last line")
    ap.add_argument("--cascade", default=DEFAULT_CASCADE, help=f"Haar cascade XML (default {DEFAULT_CASCADE})")
    ap.add_argument("--no-warmup", action="store_true",
                    help="do not process the first clip once, untimed, before measuring")
    args = ap.parse_args()

    cascade = args.cascade
    if not Path(cascade).exists() and hasattr(cv2, "data"):
        cascade = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    clips = sorted(p for p in args.clip_dir.rglob("*.mp4") if p.is_file())
    if not clips:
        raise SystemExit(f"no *.mp4 under {args.clip_dir}")

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    t_setup = time.perf_counter()
    pipe = Pipeline(cascade)
    setup_s = time.perf_counter() - t_setup
    warmup_s = 0.0
    if not args.no_warmup:
        # First-call costs (librosa/numba imports and JIT, mel filterbank, torch kernel selection) are paid once.
        t0 = time.perf_counter()
        pipe.clip(clips[0])
        warmup_s = time.perf_counter() - t0

    totals = dict.fromkeys(STAGES, 0.0)
    counts = {"frames": 0, "sampled": 0, "faces": 0, "errors": 0}
    human = not args.json
    print(f"{len(clips)} clip(s) under {args.clip_dir}, repeat {args.repeat}; setup {setup_s:.2f} s, "
          f"warm-up {warmup_s:.2f} s (untimed)", flush=True)
    if human:
        print(f"{'clip':40s} {'frames':>6s} {'sampled':>7s} {'faces':>5s} {'seconds':>8s}")
    cpu0 = cpu_seconds()
    t_all = time.perf_counter()
    for r in range(args.repeat):
        for path in clips:
            info, t = pipe.clip(path)
            for k in STAGES:
                totals[k] += t[k]
            for k in ("frames", "sampled", "faces"):
                counts[k] += info.get(k, 0)
            counts["errors"] += ("video_error" in info) + ("audio_error" in info)
            if human and r == 0:
                err = " ".join(f"{k}={info[k]}" for k in ("video_error", "audio_error") if k in info)
                print(f"{str(path.relative_to(args.clip_dir)):40s} {info.get('frames', 0):6d} "
                      f"{info.get('sampled', 0):7d} {info.get('faces', 0):5d} {info['seconds']:8.3f} {err}",
                      flush=True)
    seconds = time.perf_counter() - t_all
    cpu = cpu_seconds() - cpu0
    n = len(clips) * args.repeat
    other = seconds - sum(totals.values())

    print(f"\nstage                      total s   s/clip   share")
    for k in STAGES + ("other",):
        v = totals[k] if k != "other" else other
        print(f"{k:24s} {v:9.3f} {v / n:8.4f} {100 * v / seconds:6.1f}%")
    print(f"{'total':24s} {seconds:9.3f} {seconds / n:8.4f}")
    print(f"{n} clips in {seconds:.2f} s = {n / seconds:.3f} clips/s "
          f"({counts['frames']} frames decoded, {counts['sampled']} sampled, {counts['faces']} face crops "
          f"inferred, {counts['errors']} stream errors); CPU time {cpu:.2f} s "
          f"(this process + ffmpeg children) = {cpu / seconds:.2f} cores busy on average")

    if args.json:
        summary = {
            "clips": n,
            "seconds": round(seconds, 4),
            "clips_per_second": round(n / seconds, 4),
            "stages": {k: {"seconds": round(totals[k], 4), "seconds_per_clip": round(totals[k] / n, 5)}
                       for k in STAGES},
            "other_seconds": round(other, 4),
            "frames_decoded": counts["frames"],
            "frames_sampled": counts["sampled"],
            "face_crops": counts["faces"],
            "stream_errors": counts["errors"],
            "cpu_seconds": round(cpu, 3),
            "setup_seconds": round(setup_s, 3),
            "warmup_seconds": round(warmup_s, 3),
            "model_macs": {"face": macs(pipe.face_model, (1, 1, FACE_SIZE, FACE_SIZE)),
                           "audio": macs(pipe.audio_model, (1, 1, N_MELS, pipe.frames))},
            "versions": {"python": platform.python_version(), "opencv": cv2.__version__,
                         "torch": torch.__version__, "librosa": librosa.__version__, "numpy": np.__version__},
            "threads": 1,
            "load_average": list(os.getloadavg()),
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
