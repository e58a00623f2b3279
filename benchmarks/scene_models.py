"""The scene models on held-out simulated rooms: the picture -> acoustics head (octave-band
RT60 and DRR, :mod:`avgen.models.scene.acoustic_head`), the blind RT60 estimator that defines
AViTAR's RTE (:mod:`avgen.models.scene.rt60_estimator`) and the Image2Reverb-like baseline
(:mod:`avgen.models.scene.image2reverb`), each against the constant predictors.

Rooms: :func:`avgen.data.rooms.spec.sample_room` (hybrid image-source + ray tracing) from seeds
``--room-seed .. + rooms`` for training and ``--test-seed .. + test-rooms`` for testing (rooms
never seen in training), each with its rendered picture and labels measured on its RIR.
The head trains with its default augmentation (flips, 8-pixel translations, brightness) and
dropout 0.2.
Speech: utterances of a data kit (``--kit``; by default a ``tiny`` kit is built in a temporary
folder, about 15 s), train-split utterances for the training clips and test-split ones for
the test clips, ``--clips`` per room. Errors are mean absolute errors with 95 % intervals
(Student's t over test items); the last column is the paired difference of the model's error
and the log-mean predictor's (the better of the two constants), item by item: an interval
entirely below zero is a significant gain. Heavy (about 4 minutes on one thread): run it as

    flock /tmp/avgen-heavy.lock python benchmarks/scene_models.py [--rooms 80] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avgen.audio import load_audio
from avgen.data.datasets import kit_utterances
from avgen.data.rooms.acoustics import reverberate, simulate_room
from avgen.data.rooms.picture import render_room
from avgen.data.rooms.spec import sample_room
from avgen.metrics import rt60_schroeder, stft_distance
from avgen.models.scene.acoustic_head import (
    SceneAcousticsConfig,
    acoustic_labels,
    fit_scene_acoustics,
    scene_acoustics_errors,
)
from avgen.models.scene.embedding import picture_tensor
from avgen.models.scene.encoder import SceneEncoderConfig
from avgen.models.scene.image2reverb import Image2Reverb
from avgen.models.scene.regression import RegressionTrainConfig, mean_interval
from avgen.models.scene.rt60_estimator import (
    Rt60EstimatorConfig,
    fit_rt60_estimator,
    rt60_estimator_errors,
)
from avgen.seeding import numpy_generator

from _bench import markdown_header, markdown_row


def make_rooms(seeds: range, speech: list[torch.Tensor], clips: int, seed: int) -> dict:
    """Simulate, render and label the rooms of ``seeds``; ``clips`` reverberant utterances
    (drawn from ``speech``) per room."""
    rng = numpy_generator(seed)
    rooms, pictures, waves, dry, wave_room = [], [], [], [], []
    for i, s in enumerate(seeds):
        room = simulate_room(sample_room(s))
        rooms.append(room)
        pictures.append(picture_tensor(render_room(room.spec)))
        for k in rng.choice(len(speech), size=clips, replace=False):
            clean = speech[int(k)]
            waves.append(torch.from_numpy(reverberate(clean.numpy(), room.rir)))
            dry.append(clean)
            wave_room.append(i)
    return {
        "rooms": rooms,
        "pictures": torch.cat(pictures),
        "labels": acoustic_labels([r.acoustics for r in rooms]),
        "rt60": torch.tensor([rooms[i].acoustics.rt60 for i in wave_room]),
        "waves": waves,
        "dry": dry,
        "wave_room": wave_room,
    }


def cell(errors: np.ndarray, digits: int = 3) -> str:
    mean, half = mean_interval(errors)
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, default=None, help="data kit (default: build tiny)")
    parser.add_argument("--rooms", type=int, default=120)
    parser.add_argument("--test-rooms", type=int, default=40)
    parser.add_argument("--room-seed", type=int, default=0)
    parser.add_argument("--test-seed", type=int, default=100_000)
    parser.add_argument("--clips", type=int, default=2, help="reverberant clips per room")
    parser.add_argument("--head-width", type=int, default=8)
    parser.add_argument("--head-steps", type=int, default=300)
    parser.add_argument("--estimator-width", type=int, default=4)
    parser.add_argument("--estimator-steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        kit = args.kit
        if kit is None:
            from avgen.data.kit.build import BuildOptions, build_kit

            kit = build_kit(Path(tmp) / "tiny", BuildOptions(size="tiny", seed=0))
        speech = {
            split: [load_audio(kit / r.wav) for r in kit_utterances(kit, split)]
            for split in ("train", "test")
        }
    t_kit = time.perf_counter() - start
    train = make_rooms(
        range(args.room_seed, args.room_seed + args.rooms), speech["train"], args.clips, args.seed
    )
    test = make_rooms(
        range(args.test_seed, args.test_seed + args.test_rooms),
        speech["test"],
        min(args.clips, len(speech["test"])),
        args.seed + 1,
    )
    t_data = time.perf_counter() - start - t_kit

    head_fit = fit_scene_acoustics(
        train["pictures"],
        train["labels"],
        SceneAcousticsConfig(SceneEncoderConfig(width=args.head_width), hidden=128),
        train=RegressionTrainConfig(steps=args.head_steps, batch_size=16, lr=1e-3),
        seed=args.seed,
        progress=False,
    )
    est_fit = fit_rt60_estimator(
        train["waves"],
        train["rt60"],
        Rt60EstimatorConfig(width=args.estimator_width, frames=100),
        train=RegressionTrainConfig(steps=args.estimator_steps, batch_size=8, lr=1e-3),
        seed=args.seed,
        progress=False,
    )
    t_train = time.perf_counter() - start - t_kit - t_data

    head_err = scene_acoustics_errors(head_fit.model, test["pictures"], test["labels"])
    est_err = rt60_estimator_errors(est_fit.model, test["waves"], test["rt60"])

    # Image2Reverb-like VAM on the test clips: the target is the clip in its true room, the
    # output is cropped to the target's length (the tail past the input is not scored).
    i2r = Image2Reverb(head_fit.model, tail_seconds=1.5)
    est = est_fit.model
    rte = {"input unchanged": [], "Image2Reverb-like": []}
    dist = {"input unchanged": [], "Image2Reverb-like": []}
    rir_t60_err = []
    for j, (clean, target) in enumerate(zip(test["dry"], test["waves"])):
        r = test["wave_room"][j]
        out = i2r.match(clean, test["pictures"][r], seed=j)[: target.numel()]
        t_target = est.estimate(target)
        for name, y in (("input unchanged", clean), ("Image2Reverb-like", out)):
            rte[name].append(abs(est.estimate(y) - t_target))
            dist[name].append(float(stft_distance(target, y)))
        rir = i2r.rir(test["pictures"][r], seed=j).numpy()
        rir_t60_err.append(abs(rt60_schroeder(rir, 16000) - test["rooms"][r].acoustics.rt60))
    t_eval = time.perf_counter() - start - t_kit - t_data - t_train

    n_train_clips, n_test_clips = len(train["waves"]), len(test["waves"])
    print(
        f"scene models: {args.rooms} training rooms (seeds {args.room_seed}..), "
        f"{args.test_rooms} unseen test rooms (seeds {args.test_seed}..), hybrid simulator; "
        f"{n_train_clips}/{n_test_clips} reverberant kit utterances; {args.threads} thread(s); "
        f"pyroomacoustics {__import__('pyroomacoustics').__version__}"
    )
    print(
        f"head: width {args.head_width}, {args.head_steps} steps, loss "
        f"{head_fit.history[0]['loss']:.3f} -> {head_fit.history[-1]['loss']:.3f}; "
        f"estimator: width {args.estimator_width}, {args.estimator_steps} steps, loss "
        f"{est_fit.history[0]['loss']:.3f} -> {est_fit.history[-1]['loss']:.3f}"
    )
    print()
    print("Picture -> acoustics on unseen rooms (MAE, 95 % interval)")
    print()
    bands = head_fit.model.config.bands
    columns = ["target", "head", "mean predictor", "log-mean predictor", "head - log-mean"]
    print(markdown_header(*columns, align="lrrrr"))

    def head_row(name: str, pick, digits: int = 3) -> str:
        cells = [cell(pick(head_err[k]).numpy(), digits) for k in head_err]
        paired = pick(head_err["model"]) - pick(head_err["log_mean_predictor"])
        return markdown_row(name, *cells, cell(paired.numpy(), digits))

    for i, b in enumerate(bands):
        print(head_row(f"RT60 {b:g} Hz (s)", lambda e, i=i: e[:, i]))
    print(head_row("RT60 mean over bands (s)", lambda e: e[:, :-1].mean(dim=1)))
    print(head_row("DRR (dB)", lambda e: e[:, -1], 2))
    print()
    print("Blind RT60 estimator on reverberant speech of unseen rooms (broadband, MAE in s)")
    print()
    print(
        markdown_header(
            "",
            "estimator",
            "mean predictor",
            "log-mean predictor",
            "est. - log-mean",
            align="lrrrr",
        )
    )
    paired = est_err["model"] - est_err["log_mean_predictor"]
    print(markdown_row("RT60 (s)", *(cell(est_err[k]) for k in est_err), cell(paired)))
    print()
    print(f"VAM on unseen rooms ({n_test_clips} clips): RTE by the estimator above, STFT distance")
    print()
    print(markdown_header("system", "RTE (s)", "STFT distance", align="lrr"))
    for name in rte:
        print(markdown_row(name, cell(np.array(rte[name])), cell(np.array(dist[name]), 4)))
    print()
    print(f"Image2Reverb-like RIR: |Schroeder T30 - true RT60| = {cell(np.array(rir_t60_err))} s")
    print(
        f"times: kit {t_kit:.0f} s, rooms {t_data:.0f} s, training {t_train:.0f} s, "
        f"evaluation {t_eval:.0f} s"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "head_errors": {k: v.tolist() for k, v in head_err.items()},
                    "estimator_errors": {k: v.tolist() for k, v in est_err.items()},
                    "rte": rte,
                    "stft_distance": dist,
                    "rir_t60_error": rir_t60_err,
                    "head_history": head_fit.history,
                    "estimator_history": est_fit.history,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
