"""Pick the bundled sample set (``avgen/assets/samples``) from a built data kit.

    python scripts/make_sample_set.py --kit KIT [--out avgen/assets/samples]

Chooses test-split mixtures of **real** speech (speakers unseen in training) with **unseen**
noise, 2.5-4.5 s long, one per (noise type, SNR) listed in :data:`WANTED`; the first is the
demo clip (``demo/``). Each clip folder holds ``noisy.wav``, ``clean.wav`` (the reference, at
the mixture's gain), ``lips.npy`` (uint8 frames at 25 fps, ``avgen.data.lips.files.save_lips``) and
``clip.json`` (provenance: utterance, speaker, text, noise clip, SNR, licences). A README lists
sources and licences. Deterministic: the first matching mixture in the kit's order, one
utterance per clip.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
from pathlib import Path

from avgen.audio import load_audio, save_audio
from avgen.data.kit.records import (
    MixtureRecord,
    NoiseRecord,
    UtteranceRecord,
    read_jsonl,
    read_kit_info,
)
from avgen.data.lips.files import load_lips, save_lips
from avgen.files import write_json_atomic, write_text_atomic

#: (folder, noise type, SNR in dB)
WANTED = (
    ("demo", "babble", 0.0),
    ("traffic-m5", "traffic", -5.0),
    ("city-0", "city", 0.0),
    ("tv-5", "tv", 5.0),
)


def _noise_holders(kit: Path) -> dict[str, str]:
    """Noise id -> copyright holders, from the kit's LICENSES/noise-sources.md table."""
    holders = {}
    for line in (kit / "LICENSES" / "noise-sources.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and not re.fullmatch(r"-+|id", cells[0]):
            holders[cells[0]] = cells[6]
    return holders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("avgen/assets/samples"))
    args = parser.parse_args(argv)
    kit = args.kit
    info = read_kit_info(kit)
    utts = {u.id: u for u in read_jsonl(kit / "utterances.jsonl", UtteranceRecord)}
    noises = {n.id: n for n in read_jsonl(kit / "noise" / "noises.jsonl", NoiseRecord)}
    mixtures = read_jsonl(kit / "mixtures" / "test.jsonl", MixtureRecord)
    holders = _noise_holders(kit)
    if args.out.exists():
        shutil.rmtree(args.out)
    rows, used = [], set()
    for folder, noise_type, snr in WANTED:
        mix = next(
            m
            for m in mixtures
            if m.noise_type == noise_type
            and m.snr_db == snr
            and m.utterance_id not in used
            and utts[m.utterance_id].real
            and 2.5 < utts[m.utterance_id].duration < 4.5
        )
        used.add(mix.utterance_id)
        utt, noise = utts[mix.utterance_id], noises[mix.noise_id]
        dest = args.out / folder
        save_audio(dest / "noisy.wav", load_audio(kit / mix.wav))
        save_audio(dest / "clean.wav", load_audio(kit / mix.clean) * mix.gain)
        save_lips(dest / "lips.npy", load_lips(kit / mix.lips), fps=info.video_fps)
        provenance = {
            "mixture": dataclasses.asdict(mix),
            "utterance": dataclasses.asdict(utt),
            "noise": {**dataclasses.asdict(noise), "copyright": holders.get(noise.id, "-")},
            "video_fps": info.video_fps,
            "kit": {"size": info.size, "seed": info.seed, "avgen_version": info.avgen_version},
        }
        write_json_atomic(dest / "clip.json", provenance)
        rows.append(
            f"| `{folder}/` | {utt.text} | {utt.speaker} ({utt.source}, "
            f"{utt.licence}) | {noise.type} `{noise.id}` ({noise.licence}; "
            f"{holders.get(noise.id, '-')}) | {snr:+.0f} dB | {utt.duration:.2f} s |"
        )
    readme = [
        "# Bundled audio-visual samples",
        "",
        "Noisy test clips of the `full` data kit (`avgen data build --size full --seed "
        f"{info.seed}`), made by `scripts/make_sample_set.py`: real speech of speakers "
        "that no bundled model heard in training, mixed with noise types that no model "
        "saw (active-speech-level SNR). Each folder holds `noisy.wav`, `clean.wav` (the "
        "reference), `lips.npy` (uint8 mouth-region frames at 25 fps, rendered from the "
        "phone timing) and `clip.json` (full provenance). `demo/` is what `make demo` "
        "enhances.",
        "",
        "| clip | text | speaker (source, licence) | noise (licence; copyright) | SNR | duration |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "## Licences",
        "",
        "* Speech: Asterisk core sound prompts, CC-BY-SA-3.0 (en/es/fr) and CC-BY-3.0 "
        "(it/ru), Digium, Inc.; see `avgen/assets/licences/asterisk-core-sounds.txt`. "
        "CMU ARCTIC: see `avgen/assets/licences/CMU-ARCTIC.txt`.",
        "* Noise: Debian package `ufoai-sound` recordings under the licence in the table "
        "(GPL-2+ or CC-BY-SA-3.0, holders as listed); procedural noise generated by "
        "avgen (MIT); babble made from espeak-ng voices (GPL-3+ data, synthesized "
        "output).",
        "* The mixtures are derived works of both and carry the share-alike terms of "
        "their sources.",
        "",
    ]
    write_text_atomic(args.out / "README.md", "\n".join(readme))
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{len(rows)} clips, {total / 1e6:.2f} MB -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
