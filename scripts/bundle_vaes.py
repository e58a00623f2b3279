"""Bundle trained VAE speech priors into the package, with model cards and held-out ELBOs.

    python scripts/bundle_vaes.py --runs RUNS --kit KIT [--dest avgen/assets/models]

For each ``RUNS/<name>.pt`` written by ``scripts/train_bundled_vaes.sh``: slim the checkpoint
(no optimiser/resume state), measure the ELBO per frame on the kit's ``val`` and ``test``
splits (speakers never seen in training; 4 Monte-Carlo particles, fixed seed), write
``DEST/<name>.pt`` and the card ``DEST/<name>.md``, and print the side-by-side table that
``docs/models-vae.md`` quotes. For the MIN-VAE, also the visual branch's mixture weight as the
audio input is corrupted by white noise at decreasing SNR (the curve the bundled-model test
checks).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from avgen.data.kit.records import read_kit_info
from avgen.models.vae.elbo import evaluate_elbo
from avgen.models.vae.kit import load_kit_frames
from avgen.models.vae.names import MODEL_NAMES
from avgen.models.vae.registry import (
    card_fields_from_checkpoint,
    load_model,
    slim_checkpoint,
    write_model_card,
)

CARD_BODY = """# {title}

A VAE speech prior of avgen (`{name}`), a Pyro model and guide; see `docs/models-vae.md` for
the equations and the paper it follows.

| | |
|---|---|
| data | the `full` data kit of `avgen data build --size full --seed {kit_seed}`: train split {train_h:.2f} h ({train_real_h:.2f} h real: Asterisk prompts of Allison Smith in English and Spanish; the rest TTS: flite, festival, espeak-ng voices), {train_n} utterances, {train_spk} speakers; lips rendered from the phone timing |
| train languages | {languages} |
| augmentation | {augmentation} |
| data licences | Asterisk core sounds CC-BY-SA-3.0 (speech of Allison Smith, Digium); flite / festival voices BSD-like; espeak-ng data GPL-3+ (synthesized output); see the kit's `LICENSES/` |
| settings | {settings} |
| epochs | {epochs} (best {best_epoch}) |
| training time | {training_time} on one CPU thread (shared 2-core machine) |
| validation ELBO | {val:.2f} nats/frame (val split, speakers unseen in training) |
| test ELBO | {test:.2f} nats/frame (test split, speakers unseen in training and validation) |
{extra}
ELBO convention: Exponential likelihood on the power spectrogram (add -513 log(pi) per frame
for the complex Gaussian's), 4 Monte-Carlo particles, seed 0.

Reproduce: `scripts/train_bundled_vaes.sh KIT RUNS` then
`python scripts/bundle_vaes.py --runs RUNS --kit KIT`.
"""  # noqa: E501

TITLES = {
    "a-vae": "A-VAE (audio-only VAE; Leglaive et al. 2018)",
    "v-vae": "V-VAE (visual-only encoder; Sadeghi et al. 2020)",
    "av-vae": "AV-VAE (concatenated audio-visual encoder; Sadeghi et al. 2020)",
    "av-cvae": "AV-CVAE (conditional VAE with a visual prior; Sadeghi et al. 2020)",
    "min-vae": "MIN-VAE (mixture of inference networks; Sadeghi & Alameda-Pineda 2021)",
}


def train_languages(kit: Path) -> str:
    """Hours per language of the kit's train split, real speech (speaker ids) vs TTS."""
    from avgen.data.kit.records import UtteranceRecord, read_jsonl

    rows: dict[str, list[float]] = {}
    real_speakers: dict[str, set[str]] = {}
    for u in read_jsonl(kit / "utterances.jsonl", UtteranceRecord):
        if u.split != "train":
            continue
        hours = rows.setdefault(u.language, [0.0, 0.0])
        hours[0 if u.real else 1] += u.duration / 3600
        if u.real:
            real_speakers.setdefault(u.language, set()).add(u.speaker)
    return "; ".join(
        f"{lang}: {real:.3f} h real ({len(real_speakers.get(lang, ()))} speaker id(s)), "
        f"{tts:.3f} h TTS"
        for lang, (real, tts) in sorted(rows.items())
    )


def heldout_elbo(model, kit: Path, split: str) -> float:
    frames = load_kit_frames(kit, split, model.config.lip_dim)
    return evaluate_elbo(model, frames, seed=0, num_particles=4, batch_size=4096)


def visual_curve(model, kit: Path) -> dict[str, float]:
    from avgen.models.vae.min_vae import visual_weight_by_snr

    frames = load_kit_frames(kit, "test", model.config.lip_dim)
    snrs = [None, 20.0, 10.0, 5.0, 0.0, -5.0, -10.0]
    with torch.no_grad():
        weights = visual_weight_by_snr(model, frames.power[:20000], frames.lips[:20000], snrs)
    return {
        ("clean" if s is None else f"{s:+.0f} dB"): round(float(w[0]), 3)
        for s, w in zip(snrs, weights)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--kit", type=Path, required=True)
    parser.add_argument("--dest", type=Path, default=Path("avgen/assets/models"))
    parser.add_argument(
        "--append",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="append FILE (markdown, e.g. measured enhancement) to NAME's card (repeatable)",
    )
    args = parser.parse_args(argv)
    appendix = dict(item.split("=", 1) for item in args.append)
    torch.set_num_threads(1)
    info = read_kit_info(args.kit)
    train = info.extra["speech"]["train"]
    rows = []
    for name in MODEL_NAMES:
        src = args.runs / f"{name}.pt"
        if not src.exists():
            print(f"skip {name}: {src} missing", file=sys.stderr)
            continue
        dst = args.dest / f"{name}.pt"
        slim_checkpoint(src, dst)
        fields = card_fields_from_checkpoint(dst)
        model = load_model(dst)
        val, test = heldout_elbo(model, args.kit, "val"), heldout_elbo(model, args.kit, "test")
        extra = ""
        if name == "min-vae":
            curve = visual_curve(model, args.kit)
            extra = (
                "| visual weight by audio SNR | "
                + ", ".join(f"{k}: {v}" for k, v in curve.items())
                + " |\n"
            )
        tc = fields.pop("train_config") or {}
        config = fields.pop("config")
        settings = (
            f"L={config.get('latent_dim')}, hidden {config.get('hidden_dim')}, "
            f"batch {tc.get('batch_size')}, Adam lr {tc.get('lr')}, patience "
            f"{tc.get('patience')}"
            + (f", corrupted share {tc.get('corrupt_share')}" if name == "min-vae" else "")
        )
        body = CARD_BODY.format(
            title=TITLES[name],
            name=name,
            kit_seed=info.seed,
            train_h=train["hours"],
            train_real_h=train["real_hours"],
            train_n=train["utterances"],
            train_spk=train["speakers"],
            languages=train_languages(args.kit),
            augmentation=tc.get("augmentation") or "none",
            settings=settings,
            epochs=fields["epochs"],
            best_epoch=fields["best_epoch"],
            training_time=fields["training_time"],
            val=val,
            test=test,
            extra=extra,
        )
        card = {
            **fields,
            "data": f"avgen full data kit (seed {info.seed})",
            "data_licence": "CC-BY-SA-3.0 (Asterisk prompts); TTS voices: see card",
            "val_elbo_per_frame": f"{val:.2f}",
            "test_elbo_per_frame": f"{test:.2f}",
            "config": json.dumps(config, sort_keys=True),
        }
        if name in appendix:
            body += "\n" + Path(appendix[name]).read_text()
        write_model_card(args.dest / f"{name}.md", card, body)
        rows.append((name, val, test, dst.stat().st_size / 1e6, fields["training_time"]))
    print("| model | val ELBO (nats/frame) | test ELBO | size | training time |")
    print("|---|---|---|---|---|")
    for name, val, test, mb, t in rows:
        print(f"| {name} | {val:.1f} | {test:.1f} | {mb:.1f} MB | {t} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
