"""Calibrate each stream and fit late fusion from validation data; write the parameters into the model cards.

    python training/fusion/fit.py --speech runs/ser-oof.jsonl --faces runs/fer-public.jsonl --models Models

Inputs are `--predictions` files of the production evaluate commands (the Swift decoding, front ends and models):
- speech: `er-audio-worker evaluate` on takes the speech model never heard: the out-of-fold predictions of its
  cross-validation fold models (`training/ser/production_eval.py` writes them; canonical protocol);
- faces:  `er-video-worker evaluate-faces` on FER2013 PublicTest with the served head (the intended head of a
  two-head face model, on the original labels);
- face clips (optional, `--face-clips`): `er-video-worker evaluate` on labelled video clips the face model never
  saw (the shared RAVDESS clips: the face model is trained on FER2013 only).

1. Temperature scaling per stream: T minimising the negative log-likelihood of the true canonical label
   (`softmax(logits / T)`, summed over the card's label mapping), on that stream's validation split. With
   `--face-clips` the face temperature is fitted on those clips' clip logits instead: the video worker applies it
   to clip logits, and faces in video are another domain than FER2013's web photos (on the shared clips the
   image-level temperature leaves the face stream confidently wrong).
2. Fusion: the product of the calibrated posteriors, `log p_a + log p_v` (weights 1 and 1 in the Swift
   `LateFusion`): with each stream calibrated in its own serving domain that is the Bayes fusion of two
   conditionally independent experts under a uniform class prior. Synthetic audio-visual pairs check it: every
   speech validation take is paired with `--pairs-per-take` face validation images of the same canonical class
   (fixed seed); the weights minimising the pairs' NLL (grid 0..3 in steps of 0.05) are reported beside it but not
   used, since the pairs' faces are photos: fitted there, the weights re-sharpen the face stream to its photo
   reliability, which it does not have on video (see `Models/FUSION.md`).
3. Figures on the pairs: accuracy of each stream alone and fused, and how often the streams disagree strongly
   (`1 - sum sqrt(p_a p_v) >= 0.5`, `LateFusion.strongDisagreement`) with the fused accuracy there.
4. With `--speech-clips` too (`er-audio-worker evaluate` on the same clips as `--face-clips`): each stream alone
   and fused on those real clips.
5. Held out by person, both streams (item 4 of the face issue): with `--pair-faces` the pairs take their faces from
   those files by preference per class (the held-out CK+ subjects of `er-video-worker evaluate-faces`, then PublicTest
   for `neutral`, which CK+ lacks), and the weights are also fitted leave-fold-out (on the other speech folds' pairs,
   scored on each fold's own). With `--speech` and `--face-clips`, each clip's face is fused with the out-of-fold
   prediction of its own speech take (the same recording, scored by fold models that never heard its actor).
   `--report-only` leaves the cards alone (e.g. for out-of-fold predictions of another speech model than the served
   one).
Without `--speech` (the speech fold models' predictions are made by `training/ser/retrain`, about 3 hours) the speech
card's temperature stands as fitted before, the pairs are skipped, and only the face side is refitted.
Writes `temperature` and `fusion_weight` into ser.json and fer.json and prints a JSON report (`--report`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CANONICAL = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
STRONG_DISAGREEMENT = 0.5
NEUTRAL = CANONICAL.index("neutral")
GATE_BEFORE = 0.6  # the rule before: only a `neutral` face less sure than this left the voice to decide
FLOOR = 1e-6


def read(path: str):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def canonical_probabilities(records, card, temperature: float) -> np.ndarray:
    """[N, 7] probabilities over CANONICAL: softmax(logits / T) summed over the card's mapping."""
    index = [CANONICAL.index(card["canonical"][label]) for label in card["labels"]]
    out = np.zeros((len(records), len(CANONICAL)))
    for i, record in enumerate(records):
        assert record["labels"] == card["labels"], "predictions were made with another model"
        z = np.asarray(record["logits"], np.float64) / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        np.add.at(out[i], index, p)
    return out


def nll(probabilities: np.ndarray, truth: np.ndarray) -> float:
    return float(-np.log(np.maximum(probabilities[np.arange(len(truth)), truth], FLOOR)).mean())


def fit_temperature(records, card, truth) -> float:
    lo, hi = np.log(0.1), np.log(10.0)
    g = (np.sqrt(5) - 1) / 2
    f = lambda log_t: nll(canonical_probabilities(records, card, float(np.exp(log_t))), truth)
    for _ in range(50):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if f(a) < f(b):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def fuse(pa: np.ndarray, pv: np.ndarray, wa: float, wv: float, gate: bool = True) -> np.ndarray:
    """`LateFusion.fuse`: the weighted geometric mean; with `gate`, rows whose face reads `neutral` keep the voice's
    probabilities."""
    scores = wa * np.log(np.maximum(pa, FLOOR)) + wv * np.log(np.maximum(pv, FLOOR))
    scores -= scores.max(1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(1, keepdims=True)
    return np.where(face_gated(pv)[:, None], pa, p) if gate else p


def face_gated(pv: np.ndarray) -> np.ndarray:
    """Rows whose face reads `neutral` (`LateFusion`: no expression seen, no vote against a voice): the voice decides."""
    return pv.argmax(1) == NEUTRAL


def fuse_gate_before(pa: np.ndarray, pv: np.ndarray, wa: float, wv: float) -> np.ndarray:
    """The rule before: only a `neutral` face less sure than GATE_BEFORE left the voice to decide (reported beside)."""
    p = fuse(pa, pv, wa, wv, gate=False)
    return np.where((face_gated(pv) & (pv.max(1) < GATE_BEFORE))[:, None], pa, p)


def strong_disagreement(pa: np.ndarray, pv: np.ndarray) -> np.ndarray:
    """Rows where the streams disagree strongly: 1 - Bhattacharyya coefficient >= 0.5 (`LateFusion`)."""
    return 1 - np.sqrt(pa * pv).sum(1) >= STRONG_DISAGREEMENT


def expected_calibration_error(p: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    confidence = p.max(1)
    correct = p.argmax(1) == truth
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--speech", help="speech out-of-fold predictions; without it the speech temperature is kept")
    ap.add_argument("--faces", required=True)
    ap.add_argument("--face-clips")
    ap.add_argument("--speech-clips")
    ap.add_argument("--models", default="Models")
    ap.add_argument("--pair-faces", nargs="+",
                    help="face predictions for the pairs, by preference per class (e.g. held-out CK+ subjects, then "
                         "PublicTest for the classes CK+ lacks); default --faces")
    ap.add_argument("--report-only", action="store_true", help="write the report and leave the model cards alone")
    ap.add_argument("--pairs-per-take", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", default="training/fusion/report.json")
    args = ap.parse_args()
    models = Path(args.models)
    ser_card = json.loads((models / "ser.json").read_text())
    fer_card = json.loads((models / "fer.json").read_text())
    speech, faces = (read(args.speech) if args.speech else []), read(args.faces)
    speech_truth = np.array([CANONICAL.index(r["truth"]) for r in speech], np.int64)
    face_truth = np.array([CANONICAL.index(r["truth"]) for r in faces])

    report = {"speech_takes": len(speech), "face_images": len(faces)}
    temperatures = {"speech": ser_card["temperature"]}
    streams = [("face", faces, fer_card, face_truth)]
    if speech:
        streams.insert(0, ("speech", speech, ser_card, speech_truth))
    else:
        report["speech"] = {"temperature": ser_card["temperature"], "kept": "no --speech predictions given"}
    for name, records, card, truth in streams:
        raw = canonical_probabilities(records, card, 1.0)
        t = fit_temperature(records, card, truth)
        calibrated = canonical_probabilities(records, card, t)
        temperatures[name] = t
        report[name] = {"temperature": round(t, 4), "accuracy": float((raw.argmax(1) == truth).mean()),
                        "nll_raw": nll(raw, truth), "nll_calibrated": nll(calibrated, truth),
                        "ece_raw": expected_calibration_error(raw, truth),
                        "ece_calibrated": expected_calibration_error(calibrated, truth)}

    if args.face_clips:
        clips = read(args.face_clips)
        clip_truth = np.array([CANONICAL.index(r["truth"]) for r in clips])
        t = fit_temperature(clips, fer_card, clip_truth)
        report["face"]["image_temperature"] = report["face"]["temperature"]
        report["face"]["temperature"] = round(t, 4)
        report["face_clips"] = {"n": len(clips), "accuracy": float((canonical_probabilities(clips, fer_card, 1).argmax(1) == clip_truth).mean()),
                                "nll_image_temperature": nll(canonical_probabilities(clips, fer_card, temperatures["face"]), clip_truth),
                                "nll_clip_temperature": nll(canonical_probabilities(clips, fer_card, t), clip_truth)}
        temperatures["face"] = t

    wa, wv = 1.0, 1.0
    if speech:
        pair_faces, pair_truth, pair_sources = faces, face_truth, {}
        if args.pair_faces:
            pair_faces, pair_sources = faces_by_preference(args.pair_faces)
            pair_truth = np.array([CANONICAL.index(r["truth"]) for r in pair_faces])
        report["pairs"] = pair_check(speech, speech_truth, pair_faces, pair_truth, ser_card, fer_card, temperatures, args)
        if pair_sources:
            report["pairs"]["faces_from"] = pair_sources
    clips_check(args, ser_card, fer_card, temperatures, wa, wv, report)
    if speech and args.face_clips:
        report["clips_held_out"] = held_out_clips_check(speech, args, ser_card, fer_card, temperatures, wa, wv)
    if not args.report_only:
        for card, name, weight in ((ser_card, "ser.json", wa), (fer_card, "fer.json", wv)):
            card["temperature"] = round(temperatures["speech" if name == "ser.json" else "face"], 4)
            card["fusion_weight"] = weight
            (models / name).write_text(json.dumps(card, indent=2) + "\n")
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def pair_check(speech, speech_truth, faces, face_truth, ser_card, fer_card, temperatures, args) -> dict:
    """Synthetic audio-visual pairs: each speech take with face images of its class; fused figures (weights 1, 1)."""
    pa_all = canonical_probabilities(speech, ser_card, temperatures["speech"])
    pv_all = canonical_probabilities(faces, fer_card, temperatures["face"])
    rng = np.random.default_rng(args.seed)
    by_class = {c: np.nonzero(face_truth == c)[0] for c in range(len(CANONICAL))}
    a_idx, v_idx = [], []
    for i, c in enumerate(speech_truth):
        chosen = rng.choice(by_class[c], size=args.pairs_per_take, replace=len(by_class[c]) < args.pairs_per_take)
        a_idx += [i] * args.pairs_per_take
        v_idx += list(chosen)
    pa, pv, truth = pa_all[a_idx], pv_all[v_idx], speech_truth[a_idx]
    loss, best_wa, best_wv = fit_weights(pa, pv, truth, step=0.05)
    fitted = {"audio_weight": best_wa, "video_weight": best_wv, "nll": loss,
              "accuracy": float((fuse(pa, pv, best_wa, best_wv).argmax(1) == truth).mean())}
    wa, wv = 1.0, 1.0
    fused = fuse(pa, pv, wa, wv)
    strong = strong_disagreement(pa, pv)
    correct = fused.argmax(1) == truth
    folds = np.array([speech_fold(speech[i]["path"]) for i in a_idx])
    return {
        "n": int(len(truth)), "audio_weight": wa, "video_weight": wv, "nll": nll(fused, truth),
        "weights_fitted_on_pairs": fitted,
        "weights_fitted_leave_fold_out": weights_leave_fold_out(pa, pv, truth, folds),
        **rule_accuracies(pa, pv, truth, wa, wv),
        "strong_disagreement_share": float(strong.mean()),
        "accuracy_fused_when_disagreeing": float(correct[strong].mean()) if strong.any() else None,
        "accuracy_fused_otherwise": float(correct[~strong].mean()),
        "ece_fused": expected_calibration_error(fused, truth),
    }


def speech_fold(path: str) -> int:
    """The cross-validation fold whose models never heard the take's actor (fold 0 = actors 1-4, ...)."""
    return (int(Path(path).stem.split("-")[6]) - 1) // 4


def faces_by_preference(paths):
    """Face predictions for the pairs: each class from the first file that has it; returns the records and, per
    class, the file it came from."""
    chosen, sources = [], {}
    files = [(path, read(path)) for path in paths]
    for label in CANONICAL:
        for path, records in files:
            of_class = [r for r in records if r["truth"] == label]
            if of_class:
                chosen += of_class
                sources[label] = f"{Path(path).name} ({len(of_class)})"
                break
    return chosen, sources


def fit_weights(pa, pv, truth, step: float) -> tuple[float, float, float]:
    """(NLL, audio weight, video weight) minimising the fused NLL over a grid from 0 to 3 in `step`s."""
    grid = np.round(np.arange(0, 3.0001, step), 2)
    return min((nll(fuse(pa, pv, wa, wv), truth), float(wa), float(wv)) for wa in grid for wv in grid if wa or wv)


def weights_leave_fold_out(pa, pv, truth, folds) -> dict:
    """Fusion weights fitted by NLL on the pairs of the other speech folds and scored on each fold's own pairs:
    weights fitted on people they are then used on never take part."""
    predictions = np.zeros(len(truth), np.int64)
    fitted = {}
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        _, wa, wv = fit_weights(pa[train], pv[train], truth[train], step=0.1)
        fitted[int(k)] = [wa, wv]
        predictions[test] = fuse(pa[test], pv[test], wa, wv).argmax(1)
    return {"weights_per_fold": fitted, "accuracy_fused": float((predictions == truth).mean())}


def rule_accuracies(pa, pv, truth, wa, wv) -> dict:
    """Accuracy of each stream alone and fused by the shipped rule, beside the rule before and no gate at all."""
    def accuracy(p):
        return float((p.argmax(1) == truth).mean())
    return {"accuracy_audio": accuracy(pa), "accuracy_video": accuracy(pv), "accuracy_fused": accuracy(fuse(pa, pv, wa, wv)),
            "accuracy_fused_without_face_gate": accuracy(fuse(pa, pv, wa, wv, gate=False)),
            "accuracy_fused_rule_before": accuracy(fuse_gate_before(pa, pv, wa, wv))}


def clip_figures(ca, cv, truth, wa, wv) -> dict:
    """Real clips: `rule_accuracies`, the faces the gate leaves out, and the strong disagreements."""
    strong = strong_disagreement(ca, cv)
    return {"n": len(truth), **rule_accuracies(ca, cv, truth, wa, wv), "face_below_gate": int(face_gated(cv).sum()),
            "strong_disagreements": int(strong.sum()),
            "strong_disagreements_fused_right": int((fuse(ca, cv, wa, wv).argmax(1) == truth)[strong].sum())}


def held_out_clips_check(speech, args, ser_card, fer_card, temperatures, wa, wv) -> dict:
    """The real clips with speech, each stream from a model that never met the person: the face clip predictions
    (`--face-clips`; the face model never saw RAVDESS) with the out-of-fold prediction of the clip's own speech
    take (the same recording's audio, scored by the fold models that never heard its actor)."""
    def take(path):  # emotion, intensity, statement, repetition, actor
        return tuple(Path(path).stem.split("-")[2:7])
    voices = {take(r["path"]): r for r in speech}
    # One per take: an audio-visual file and its video-only twin are the same recording.
    faces = list({take(r["path"]): r for r in sorted(read(args.face_clips), key=lambda r: r["path"])
                  if take(r["path"]) in voices}.values())
    truth = np.array([CANONICAL.index(r["truth"]) for r in faces])
    ca = canonical_probabilities([voices[take(r["path"])] for r in faces], ser_card, temperatures["speech"])
    cv = canonical_probabilities(faces, fer_card, temperatures["face"])
    return {**clip_figures(ca, cv, truth, wa, wv), "takes": sorted("-".join(take(r["path"])) for r in faces)}


def clips_check(args, ser_card, fer_card, temperatures, wa, wv, report):
    """Each stream alone and fused on the real clips (`--face-clips` and `--speech-clips`)."""
    if args.face_clips and args.speech_clips:
        faces_by_path = {r["path"].split("/")[-1]: r for r in read(args.face_clips)}
        voices = [r for r in read(args.speech_clips) if r["path"].split("/")[-1] in faces_by_path]
        truth_c = np.array([CANONICAL.index(r["truth"]) for r in voices])
        ca = canonical_probabilities(voices, ser_card, temperatures["speech"])
        cv = canonical_probabilities([faces_by_path[r["path"].split("/")[-1]] for r in voices], fer_card, temperatures["face"])
        report["clips"] = clip_figures(ca, cv, truth_c, wa, wv)


if __name__ == "__main__":
    main()
