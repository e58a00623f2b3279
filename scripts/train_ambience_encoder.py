"""Train the bundled ambience encoder (``avgen/assets/stylize/ambience-encoder.pt``) on the noise
bank, and measure its held-out clip accuracy.

    OMP_NUM_THREADS=1 python scripts/train_ambience_encoder.py --out avgen/assets/stylize \
        --steps 600 --seed 0

Data: every noise type of :func:`avgen.data.noise.bank.noise_bank` (seen and unseen: the encoder
is an evaluator), babble from four flite talkers; the last 20 % of every recording (when that is
at least 2 s) is held out. Speech mixed in for augmentation: flite voices kal16, awb, rms on the
training sentences below; the held-out test with speech uses voice slt on other sentences.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from avgen.data.noise.bank import flite_talkers, noise_bank
from avgen.data.speech.tts import synthesize_flite
from avgen.models.scene.ambience_encoder import (
    AmbienceEncoderConfig,
    AmbienceTrainConfig,
    fit_ambience_encoder,
    heldout_accuracy,
    save_ambience_encoder,
    split_segments,
)

TRAIN_SENTENCES = (
    "The old bridge was closed for repairs during the whole summer.",
    "Could you bring two cups of coffee and a glass of water?",
    "Our train leaves at half past eight from platform four.",
    "The children painted the fence a bright shade of green.",
    "A small boat drifted slowly towards the rocky shore.",
    "Remember to switch off the lights before you leave the office.",
)
TEST_SENTENCES = (
    "The museum opens its new gallery on the first of May.",
    "He wrote a long letter to his sister in Canada.",
    "Heavy snow blocked the mountain pass for three days.",
)


def speech_set(voices: tuple[str, ...], sentences: tuple[str, ...]) -> list[np.ndarray]:
    return [synthesize_flite(s, v).waveform for v in voices for s in sentences]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    clips = noise_bank(seed=args.seed, talkers=flite_talkers(4, seed=args.seed))
    train, held = [], []
    for c in clips:
        a, b = split_segments(c.waveform)
        train.append((c.type, a))
        if b is not None:
            held.append((c.type, b))
    speech = speech_set(("kal16", "awb", "rms"), TRAIN_SENTENCES)
    test_speech = speech_set(("slt",), TEST_SENTENCES)
    print(
        f"data: {len(clips)} recordings, {len(held)} held-out segments, "
        f"{time.perf_counter() - t0:.1f} s"
    )

    config = AmbienceEncoderConfig(classes=tuple(sorted({c.type for c in clips})), width=args.width)
    fit = fit_ambience_encoder(
        train,
        speech=speech,
        config=config,
        train=AmbienceTrainConfig(steps=args.steps, batch_size=args.batch_size),
        seed=args.seed,
    )
    params = sum(p.numel() for p in fit.model.parameters())
    print(f"trained {args.steps} steps in {fit.seconds:.0f} s; {params} parameters")
    print("loss:", " ".join(f"{h['loss']:.3f}" for h in fit.history))
    results = {
        "ambience only": heldout_accuracy(fit.model, held),
        "speech at 0 dB": heldout_accuracy(
            fit.model, held, speech=test_speech, speech_snr_db=0.0, seed=args.seed
        ),
        "speech at +10 dB": heldout_accuracy(
            fit.model, held, speech=test_speech, speech_snr_db=10.0, seed=args.seed
        ),
    }
    for name, r in results.items():
        print(
            f"held-out 2 s clips, {name}: accuracy {r['accuracy']:.3f} "
            f"(balanced {r['balanced_accuracy']:.3f}, n {r['n']:.0f}, chance {r['chance']:.3f})"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    extra = {
        "steps": args.steps,
        "seed": args.seed,
        "train_seconds": fit.seconds,
        "train": fit.config.to_dict(),
        "heldout": json.dumps(results),
    }
    save_ambience_encoder(args.out / "ambience-encoder.pt", fit.model, extra=extra)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
