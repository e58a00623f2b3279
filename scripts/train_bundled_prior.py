"""Train the small diffusion prior shipped in ``avgen/assets/diffusion/`` (reproducible).

Data (persons of the kit's *train* split only, so that the kit's val/test speakers stay unseen):

* the Asterisk prompts of Allison Smith, English (``en_US_f_Allison``) and Spanish
  (``es_MX_f_Allison``), G.722 decoded to 16 kHz (CC-BY-SA-3.0), prompts of at least 0.8 s,
  silence trimmed to 0.1 s around the active part;
* flite voices ``kal16`` and ``rms`` speaking the English prompt transcripts;

each utterance scaled to an RMS of -26 dBFS (the prior's operating level).

Every 20th utterance (in a fixed order) is held out for validation. Run under the heavy-job lock::

    flock /tmp/avgen-heavy.lock python scripts/train_bundled_prior.py --work /tmp/prior \\
        --steps 1000 --threads 1

then it exports the EMA weights to ``avgen/assets/diffusion/prior-small.pt`` and writes the card
``prior-small.md`` beside it. ``--resume`` continues an interrupted run from ``--work``.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import logging
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avgen.audio import SAMPLE_RATE
from avgen.models.diffusion import (
    DiffusionTrainConfig,
    export_prior,
    fit_diffusion_prior,
    write_model_card,
)

SOUNDS = Path("/usr/share/asterisk/sounds")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
ASSETS = Path(__file__).resolve().parents[1] / "avgen" / "assets" / "diffusion"


def decode_g722(path: str) -> np.ndarray:
    import G722

    pcm = np.asarray(G722.G722(SAMPLE_RATE, 64000).decode(Path(path).read_bytes()))
    return pcm.astype(np.float32) / 32768.0


def trim(wav: np.ndarray, margin: float = 0.1, floor_db: float = -40.0) -> np.ndarray:
    """Cut silence before and after the frames within ``floor_db`` of the loudest 20 ms frame,
    keeping ``margin`` seconds on each side."""
    hop = SAMPLE_RATE // 50
    n = len(wav) // hop
    if n == 0:
        return wav
    energy = (wav[: n * hop].reshape(n, hop) ** 2).mean(1) + 1e-12
    db = 10 * np.log10(energy / energy.max())
    active = np.flatnonzero(db > floor_db)
    pad = int(margin * SAMPLE_RATE)
    return wav[max(active[0] * hop - pad, 0) : min((active[-1] + 1) * hop + pad, len(wav))]


def normalise(wav: np.ndarray, level_dbfs: float) -> np.ndarray:
    """Scale to an RMS of ``level_dbfs`` dB re full scale (over the trimmed utterance)."""
    rms = float(np.sqrt(np.mean(wav.astype(np.float64) ** 2)))
    return (wav * (10 ** (level_dbfs / 20) / rms)).astype(np.float32)


def asterisk_speech(folder: str) -> list[tuple[str, np.ndarray]]:
    out = []
    for path in sorted(glob.glob(str(SOUNDS / folder / "**" / "*.g722"), recursive=True)):
        wav = trim(decode_g722(path))
        if len(wav) >= 0.8 * SAMPLE_RATE:
            out.append((f"{folder}/{Path(path).stem}", wav))
    return out


def flite_speech(voice: str, texts: list[str]) -> list[tuple[str, np.ndarray]]:
    from avgen.data.speech.tts import synthesize_flite

    out = []
    for i, text in enumerate(texts):
        wav = trim(synthesize_flite(text, voice).waveform)
        if len(wav) >= 0.8 * SAMPLE_RATE:
            out.append((f"flite-{voice}/{i:04d}", wav))
    return out


def english_texts() -> list[str]:
    texts = []
    with gzip.open(TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";") or ":" not in line:
                continue
            text = line.split(":", 1)[1].strip()
            text = re.sub(r"[\[\]<>{}]", " ", text)
            if len(text.split()) >= 4:
                texts.append(text)
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the checkpoint")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--segment-frames", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--level", type=float, default=-26.0, help="RMS level of every utterance in dBFS"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--assets", type=Path, default=ASSETS, help="where to export")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)

    texts = english_texts()
    items = (
        asterisk_speech("en_US_f_Allison")
        + asterisk_speech("es_MX_f_Allison")
        + flite_speech("kal16", texts[0::2])
        + flite_speech("rms", texts[1::2])
    )
    items = [(name, normalise(w, args.level)) for name, w in items]
    train = [torch.from_numpy(w) for i, (_, w) in enumerate(items) if i % 20 != 7]
    val = [torch.from_numpy(w) for i, (_, w) in enumerate(items) if i % 20 == 7]
    hours = sum(len(w) for w in train) / SAMPLE_RATE / 3600
    logging.info("%d training utterances (%.2f h), %d validation", len(train), hours, len(val))

    config = DiffusionTrainConfig.for_size(
        "small",
        steps=args.steps,
        segment_frames=args.segment_frames,
        lr=6e-4,
        checkpoint_every=50,
        val_every=250,
    )
    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / "prior-small-train.pt"
    fit = fit_diffusion_prior(
        train,
        val,
        config,
        seed=args.seed,
        checkpoint=ckpt,
        resume=ckpt if args.resume and ckpt.exists() else None,
        progress=True,
    )
    dest = export_prior(ckpt, args.assets / "prior-small.pt")
    fit.checkpoint = dest
    per_source = {}
    for name, w in items:
        key = name.split("/")[0]
        per_source[key] = per_source.get(key, 0.0) + len(w) / SAMPLE_RATE / 60
    sources = ", ".join(f"{k} {v:.1f} min" for k, v in per_source.items())
    write_model_card(
        args.assets / "prior-small.md",
        fit,
        seed=args.seed,
        data=(
            f"{len(train)} training utterances ({hours:.2f} h) and {len(val)} validation "
            f"utterances (every 20th held out) of persons in the kit's train split: "
            f"{sources} (Asterisk prompts of Allison Smith, G.722 decoded; flite voices "
            f"speaking the English prompt transcripts), each scaled to an RMS of "
            f"{args.level:g} dBFS: scale input speech to that level before use"
        ),
        licences=[
            "Asterisk core sounds: CC-BY-SA-3.0 (Digium, voice of Allison Smith)",
            "flite voices: BSD-like (CMU, see /usr/share/doc/flite/copyright)",
        ],
        notes=(
            "Reproduce with `flock /tmp/avgen-heavy.lock python "
            "scripts/train_bundled_prior.py --work DIR`. A short CPU training: a prior for "
            "demos and tests; for research, train `--size small` or `base` on a full kit "
            "(`avgen train --model diffusion-prior --data DIR`)."
        ),
    )
    logging.info("wrote %s (%.2f MB)", dest, os.path.getsize(dest) / 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
