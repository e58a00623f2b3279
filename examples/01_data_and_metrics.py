# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 01 — The offline data kit and the metrics
#
# avgen trains and evaluates audio-visual speech models without any network access or public
# audio-visual corpus. `avgen data build` makes a **data kit** from what installs offline:
#
# * real speech (Asterisk telephone prompts in five languages, CMU ARCTIC clips) and TTS voices
#   (flite, festival, espeak-ng), in speaker-disjoint train / val / test splits;
# * phone timing from the synthesizers or from forced alignment of the real prompts;
# * **lips**: a grayscale mouth region per video frame rendered from those phones;
# * a **noise bank** of real ambience recordings and procedural noises, split into types seen
#   in training and types never seen (babble, traffic, city, night, TV);
# * noisy val/test **mixtures** at chosen SNRs, with every licence notice.
#
# This notebook looks at one utterance of a kit, mixes it with an unseen noise, measures it
# with the metrics module (PESQ-WB, ESTOI, SI-SDR), enhances it with the classical Wiener
# baseline, and measures a simulated room's reverberation time.
#
# Set `AVGEN_KIT` to a kit folder to use it; otherwise a `tiny` kit is built (about 15 s).

# %%
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from avgen.audio import VAE_STFT, load_audio, power_spectrogram
from avgen.baselines.wiener import wiener_enhance
from avgen.data.kit.build import BuildOptions, build_kit, format_summary
from avgen.data.kit.records import MixtureRecord, UtteranceRecord, read_jsonl, read_kit_info
from avgen.data.lips.files import load_lips
from avgen.data.rooms.acoustics import reverberate, simulate_room
from avgen.data.rooms.spec import sample_room
from avgen.data.speech.phones import load_phones
from avgen.metrics import energy_decay_curve_db, evaluate

OUT = Path(os.environ.get("AVGEN_EXAMPLE_OUTPUT", "example-output")) / "01_data_and_metrics"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
torch.set_num_threads(1)

# %% [markdown]
# ## The kit

# %%
kit = (
    Path(os.environ["AVGEN_KIT"])
    if os.environ.get("AVGEN_KIT")
    else build_kit(OUT / "kit-tiny", BuildOptions(size="tiny", seed=SEED))
)
print(format_summary(kit))
info = read_kit_info(kit)
utterances = read_jsonl(kit / "utterances.jsonl", UtteranceRecord)
mixtures = read_jsonl(kit / "mixtures" / "test.jsonl", MixtureRecord)

# %% [markdown]
# ## One test mixture: clean speech, its phones and lips, and the noisy version
#
# We take a test mixture with unseen noise (the speaker is unseen too: the test split's
# speakers never appear in training).

# %%
mix = next(
    (m for m in mixtures if m.noise_split == "unseen" and m.snr_db == 0.0),
    next(m for m in mixtures if m.noise_split == "unseen"),
)
utt = next(u for u in utterances if u.id == mix.utterance_id)
clean = load_audio(kit / mix.clean) * mix.gain
noisy = load_audio(kit / mix.wav)
phones = load_phones(kit / utt.phones)
lips = load_lips(kit / utt.lips)
print(
    f"{utt.id}: '{utt.text}' ({utt.source}, {utt.licence}, {utt.duration:.2f} s, "
    f"timing from {utt.timing})"
)
print(
    f"noise {mix.noise_type} ({mix.noise_split}) at {mix.snr_db:+.0f} dB; "
    f"{lips.shape[0]} lip frames at {info.video_fps:g} fps"
)


def log_spec(x: torch.Tensor) -> np.ndarray:
    return (10 * torch.log10(power_spectrogram(x, VAE_STFT) + 1e-10)).numpy()


fig, axes = plt.subplots(3, 1, figsize=(10, 8), constrained_layout=True)
duration = clean.numel() / 16_000
top = float(log_spec(clean).max())
for ax, x, title in ((axes[0], clean, "clean"), (axes[1], noisy, "noisy")):
    ax.imshow(
        log_spec(x),
        origin="lower",
        aspect="auto",
        vmin=top - 70,
        vmax=top,
        extent=(0, duration, 0, 8),
    )
    ax.set(title=title, ylabel="kHz")
for seg in phones:
    if seg.phone != "pau":
        axes[0].text(
            (seg.start + seg.end) / 2,
            7.2,
            seg.phone,
            ha="center",
            fontsize=6,
            color="w",
            rotation=90,
        )
picks = np.linspace(0, lips.shape[0] - 1, 12).astype(int)
axes[2].imshow(np.concatenate([lips[i] for i in picks], axis=1), cmap="gray")
axes[2].set(title="lips at 12 instants", xticks=[], yticks=[])
fig.savefig(OUT / "utterance.png", dpi=80)
plt.show()  # inline in a notebook; a no-op when run as a script

# %% [markdown]
# ## Metrics, and the classical baseline
#
# `avgen.metrics.evaluate` gives PESQ (wideband, ITU-T P.862.2), ESTOI (Jensen & Taal 2016) and
# SI-SDR (Le Roux et al. 2019). The Wiener filter with minimum-statistics noise tracking
# (Martin 2001) needs no training and no noise example: the context row of every table.

# %%
wiener = wiener_enhance(noisy)
scores = {"noisy": evaluate(clean, noisy), "wiener": evaluate(clean, wiener)}
for name, row in scores.items():
    print(f"{name:7s} " + "  ".join(f"{k} {v:6.2f}" for k, v in row.items()))

# %% [markdown]
# ## A simulated room and its reverberation time
#
# Rooms come from pyroomacoustics (image source + ray tracing); RT60 by Schroeder backward
# integration, in octave bands too.

# %%
room = simulate_room(sample_room(SEED))
reverberant = reverberate(clean.numpy(), room.rir)
edc = energy_decay_curve_db(room.rir)
fig, ax = plt.subplots(figsize=(6, 3), constrained_layout=True)
ax.plot(np.arange(len(edc)) / 16_000, edc)
ax.set(
    xlabel="s",
    ylabel="dB",
    ylim=(-70, 2),
    title=f"energy decay curve, T30 = {room.acoustics.rt60:.2f} s",
)
fig.savefig(OUT / "room.png", dpi=80)
plt.show()  # inline in a notebook; a no-op when run as a script
scores["reverberant"] = evaluate(clean, reverberant)
print(
    f"RT60 {room.acoustics.rt60:.2f} s; per band: "
    + ", ".join(f"{int(f)} Hz {t:.2f}" for f, t in room.acoustics.rt60_bands.items())
)

# %%
(OUT / "summary.json").write_text(
    json.dumps({"mixture": mix.id, "scores": scores, "rt60": room.acoustics.rt60}, indent=1)
)
print(f"figures and summary in {OUT}")
