# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 — Visual acoustic matching and dereverberation with MVSD
#
# MVSD (Ma, Wang, Yang, Zheng, ECCV 2024) learns two conditional diffusion models that see a
# picture of a room: a **reverberator** `f(x, I)` that makes dry speech sound as if spoken in
# the room of the picture, and a **dereverberator** `g(y, I)` that removes that room. They are
# trained together so that each judges the other through a cycle `g(f(x)) ≈ x`, which lets
# unpaired audio teach both (`docs/visual-conversion.md`).
#
# 1. Three room pictures bundled with the package (rooms the bundled weights never saw), with
#    the reverberation times measured on their simulated impulse responses.
# 2. The same sentence matched to each room: spectrograms side by side, and the RT60 of each
#    result by the blind estimator that defines the RTE metric.
# 3. The cycle at work: the matched speech dereverberated back with the same picture.
#
# The bundled weights are small and were trained on a CPU for minutes (model card:
# `avgen/assets/mvsd/mvsd.md`); pictures unlike the rendered rooms (real photographs) are
# outside what they learnt. `AVGEN_EXAMPLE_FAST=1` runs fewer sampling steps.

# %%
from __future__ import annotations

import json
import os
from importlib.resources import files as package_files
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from avgen.audio import load_audio
from avgen.files import atomic_path, write_json_atomic
from avgen.images import load_picture
from avgen.metrics import estoi, si_sdr
from avgen.pipelines.scene.mvsd import bundled_rt60_estimator, dereverberate, load_mvsd_model, match

FAST = os.environ.get("AVGEN_EXAMPLE_FAST", "0") == "1"
OUT = Path(os.environ.get("AVGEN_EXAMPLE_OUTPUT", "runs/examples")) / "06_visual_acoustic_matching"
SEED = 0
STEPS = 6 if FAST else 18
torch.set_num_threads(1 if FAST else 2)
summary: dict = {"steps": STEPS}

# %% [markdown]
# ## 1. Three rooms
#
# Each picture is what a camera at the microphone sees; the same specification (dimensions,
# one material per surface) gave the simulated impulse response whose reverberation time is
# printed under it.

# %%
rooms_dir = Path(str(package_files("avgen") / "assets" / "rooms"))
labels = json.loads((rooms_dir / "rooms.json").read_text())
names = ["dry-room.png", "medium-room.png", "live-room.png"]
pictures = {n: load_picture(rooms_dir / n).pixels for n in names}
fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
for ax, n in zip(axes, names):
    ax.imshow(pictures[n])
    ax.set_title(f"{n}\nRT60 {labels[n]['rt60_s']:.2f} s, DRR {labels[n]['drr_db']:.1f} dB")
    ax.axis("off")
fig.tight_layout()
OUT.mkdir(parents=True, exist_ok=True)
with atomic_path(OUT / "rooms.png") as tmp:
    fig.savefig(tmp, dpi=80)
plt.show()

# %% [markdown]
# ## 2. One sentence, three rooms
#
# `match` samples the reverberator from noise (EDM Heun, `STEPS` levels) with the dry
# sentence's compressed STFT as content and the picture's scene embedding by FiLM and
# cross-attention. The output is longer than the input by the model's 1-second tail.

# %%
model = load_mvsd_model()
estimator = bundled_rt60_estimator()
dry = load_audio(package_files("avgen") / "assets" / "samples" / "demo" / "clean.wav")
dry = dry[: 3 * 16000]
matched = {}
for n in names:
    result = match(dry, pictures[n], model=model, steps=STEPS, seed=SEED)
    matched[n] = result.estimate
summary["rt60"] = {
    n: {"true": labels[n]["rt60_s"], "blind_estimate_of_match": estimator.estimate(matched[n])}
    for n in names
}
summary["rt60"]["dry input"] = {"blind_estimate": estimator.estimate(dry)}


def log_spectrogram(x: torch.Tensor) -> np.ndarray:
    window = torch.hann_window(512)
    spec = torch.stft(x, 512, 128, window=window, return_complex=True).abs()
    return (20 * torch.log10(spec + 1e-5)).numpy()


fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), sharey=True)
panels = [("dry input", dry)] + [(n, matched[n]) for n in names]
for ax, (title, x) in zip(axes, panels):
    ax.imshow(log_spectrogram(x), origin="lower", aspect="auto", vmin=-80, vmax=20,
              extent=(0, x.numel() / 16000, 0, 8))  # fmt: skip
    est = estimator.estimate(x)
    ax.set_title(f"{title}\nblind RT60 {est:.2f} s", fontsize=9)
    ax.set_xlabel("s")
axes[0].set_ylabel("kHz")
fig.tight_layout()
with atomic_path(OUT / "matched_spectrograms.png") as tmp:
    fig.savefig(tmp, dpi=80)
plt.show()
print(json.dumps(summary["rt60"], indent=1))

# %% [markdown]
# **What the bundled weights do.** With the bundled weights the three results have almost the
# same blind RT60: at its CPU training budget (400 optimiser steps of a 0.3 M-parameter model,
# about half an hour on one core) the reverberator renders the *average* room of its training
# set and has not learnt to read the picture, and its samples are noisy. The architecture can
# follow a picture: `benchmarks/mvsd_picture_conditioning.py` trains it on two very different
# rooms and the live room's picture then gives 5 to 30 times more late energy than the dry
# room's. `benchmarks/mvsd_quality.py` measures the bundled model against its baselines
# (`docs/visual-conversion.md`); a longer training, on a GPU, is what it needs.

# %% [markdown]
# ## 3. The cycle at work
#
# The dereverberator, given the speech matched to the live room and that room's picture,
# should give back the dry sentence; training asked exactly this of the two converters on data
# with no clean reference. SI-SDR and ESTOI against the dry sentence, before and after.

# %%
n = "live-room.png"
back = dereverberate(matched[n], pictures[n], model=model, steps=STEPS, seed=SEED).estimate
length = dry.numel()
summary["cycle"] = {
    "matched_si_sdr": float(si_sdr(dry, matched[n][:length])),
    "cycle_si_sdr": float(si_sdr(dry, back[:length])),
    "matched_estoi": float(estoi(dry, matched[n][:length])),
    "cycle_estoi": float(estoi(dry, back[:length])),
}
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), sharey=True)
for ax, (title, x) in zip(axes, [("dry", dry), ("f(dry, live room)", matched[n]),
                                  ("g(f(dry)), same picture", back)]):  # fmt: skip
    ax.imshow(log_spectrogram(x), origin="lower", aspect="auto", vmin=-80, vmax=20,
              extent=(0, x.numel() / 16000, 0, 8))  # fmt: skip
    ax.set_title(title, fontsize=9)
fig.tight_layout()
with atomic_path(OUT / "cycle.png") as tmp:
    fig.savefig(tmp, dpi=80)
plt.show()
print(json.dumps(summary["cycle"], indent=1))
write_json_atomic(OUT / "summary.json", summary)
