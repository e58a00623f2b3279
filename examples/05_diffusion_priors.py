# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 05 — Diffusion priors: samplers on a toy and on speech, and blind dereverberation
#
# 1. **A Gaussian toy**, where the exact denoiser is known: every sampler of
#    `inference.diffusion` is run with the same schedule and compared with the true mean and
#    covariance (whitened errors).
# 2. **Speech**: the bundled prior (`avgen.models.diffusion.load_diffusion_prior()`) sampled
#    unconditionally with each sampler: what a short CPU-trained prior of clean speech knows.
# 3. **Blind dereverberation** (`avgen.pipelines.diffusion.dereverberate`, BUDDy-style DPS with
#    the room estimated jointly) of one clip in a simulated room: the estimated impulse response
#    against the true one, and the T60 per band.
#
# `AVGEN_EXAMPLE_FAST=1` runs a small setting in well under a minute.

# %%
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from avgen.data.rooms.acoustics import reverberate, simulate_room
from avgen.data.rooms.spec import sample_room
from avgen.data.speech.tts import synthesize_flite
from avgen.files import atomic_path, write_json_atomic
from avgen.metrics import energy_decay_curve_db, estoi, si_sdr
from avgen.models.diffusion import load_diffusion_prior, tensor_to_waveform
from avgen.pipelines.diffusion import dereverberate
from inference.diffusion import SAMPLERS, get_sampler, karras_sigmas, random_gaussian

FAST = os.environ.get("AVGEN_EXAMPLE_FAST", "0") == "1"
OUT = Path(os.environ.get("AVGEN_EXAMPLE_OUTPUT", "runs/examples")) / "05_diffusion_priors"
SEED = 0
torch.set_num_threads(1 if FAST else 2)
summary: dict = {}

# %% [markdown]
# ## 1. Samplers on a Gaussian toy
#
# Data `N(mu, Sigma)` in 5 dimensions (condition number 40); the exact denoiser
# `D(x, sigma) = E[x0 | x]` is linear. Chains start from the exact noisy marginal at
# `sigma_max`, so what remains is each solver's discretisation error (and Monte-Carlo error,
# about `1/sqrt(N)`).

# %%
toy = random_gaussian(5, seed=SEED)
n_chains = 4000 if FAST else 20000
toy_steps = 20 if FAST else 50
sigmas = karras_sigmas(toy_steps, 0.002, 80.0, dtype=torch.float64)
w = torch.linalg.inv(torch.linalg.cholesky(toy.cov))
toy_rows = {}
for name in SAMPLERS:
    g = torch.Generator().manual_seed(SEED)
    x_T = toy.sample(n_chains, float(sigmas[0]), generator=g)
    options = {"s_churn": 10.0} if name == "heun" else {}
    x = get_sampler(name)(toy, x_T, sigmas, generator=g, **options)
    z = (x - toy.mean) @ w.T
    toy_rows[name] = {
        "mean_err": float(z.mean(0).abs().max()),
        "cov_err": float((torch.cov(z.T) - torch.eye(5, dtype=z.dtype)).abs().max()),
        "samples": x[:400, :2].numpy(),
    }
    print(
        f"{name:9s} whitened mean error {toy_rows[name]['mean_err']:.3f}, "
        f"covariance error {toy_rows[name]['cov_err']:.3f} "
        f"(Monte-Carlo scale {1 / n_chains**0.5:.3f})"
    )
summary["toy"] = {k: {m: v[m] for m in ("mean_err", "cov_err")} for k, v in toy_rows.items()}

# %%
fig, axes = plt.subplots(1, len(toy_rows), figsize=(3 * len(toy_rows), 3), sharex=True, sharey=True)
exact = toy.sample(400, generator=torch.Generator().manual_seed(1)).numpy()
for ax, (name, row) in zip(axes, toy_rows.items()):
    ax.scatter(exact[:, 0], exact[:, 1], s=3, alpha=0.3, label="exact")
    ax.scatter(row["samples"][:, 0], row["samples"][:, 1], s=3, alpha=0.3, label=name)
    ax.set_title(f"{name}\ncov err {row['cov_err']:.3f}")
axes[0].legend(loc="upper left", fontsize=7)
fig.tight_layout()
OUT.mkdir(parents=True, exist_ok=True)
with atomic_path(OUT / "toy_samplers.png") as tmp:
    fig.savefig(tmp, dpi=90)
plt.show()  # inline in a notebook; a no-op when run as a script

# %% [markdown]
# ## 2. The bundled speech prior, sampled unconditionally
#
# Compressed complex STFT (`n_fft` 510, hop 128), real and imaginary parts as channels. The
# schedule spans `sigma_data * (0.02 .. 20)`, the range the prior was trained on. With the
# short CPU training of the bundled prior, samples are speech-like textures (harmonics,
# formant-like bands, onsets) rather than words.

# %%
prior = load_diffusion_prior()
sd = float(prior.sigma_data)
frames = 64 if FAST else 256
speech_steps = 8 if FAST else 40
speech_sigmas = karras_sigmas(speech_steps, 0.02 * sd, 20 * sd)
speech_samples = {}
for name in ("euler", "heun", "pc", "dpmpp_2m") if FAST else SAMPLERS:
    g = torch.Generator().manual_seed(SEED)
    x_T = float(speech_sigmas[0]) * torch.randn(1, 2, 256, frames, generator=g)
    x = get_sampler(name)(prior, x_T, speech_sigmas, generator=g)
    speech_samples[name] = x[0]
    print(
        f"{name:9s} sample RMS {float(x.square().mean().sqrt()):.4f} (prior's sigma_data {sd:.4f})"
    )
summary["speech_rms"] = {k: float(v.square().mean().sqrt()) for k, v in speech_samples.items()}

# %%
fig, axes = plt.subplots(1, len(speech_samples), figsize=(3.2 * len(speech_samples), 3))
for ax, (name, x) in zip(np.atleast_1d(axes), speech_samples.items()):
    mag = 20 * torch.log10(x.square().sum(0).sqrt() + 1e-4)
    ax.imshow(mag.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-60, vmax=0)
    ax.set_title(name)
    ax.set_xlabel("frame")
np.atleast_1d(axes)[0].set_ylabel("bin")
fig.tight_layout()
with atomic_path(OUT / "speech_samples.png") as tmp:
    fig.savefig(tmp, dpi=90)
plt.show()  # inline in a notebook; a no-op when run as a script
waveform = tensor_to_waveform(speech_samples["pc"])
print(f"an unconditional sample as audio: {waveform.shape[-1] / 16000:.2f} s")

# %% [markdown]
# ## 3. Blind dereverberation of one clip
#
# Dry speech (flite's `slt` voice) in a shoebox room
# simulated by pyroomacoustics (hybrid image-source + ray tracing). `dereverberate` sees only
# the reverberant signal; it initialises the room from the speech offsets (a blind T60 per
# band), then runs DPS with the room's tail gains estimated jointly, every reverse step.

# %%
text = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."
clean = torch.as_tensor(synthesize_flite(text, "slt").waveform, dtype=torch.float32)
if FAST:
    clean = clean[: 2 * 16000]
room = simulate_room(sample_room(9100))
reverberant = torch.as_tensor(reverberate(clean.numpy(), room.rir))
result = dereverberate(reverberant, steps=6 if FAST else 30, seed=SEED, progress=False)
t60_per_band, est_rir = result.extras["t60_per_band"], result.extras["rir"].numpy()
c, r, e = clean.numpy(), reverberant.numpy(), result.estimate.numpy()
summary["dereverb"] = {
    "true_t60": room.acoustics.rt60,
    "est_t60": result.info["t60_broadband"],
    "true_t60_bands": {str(k): v for k, v in room.acoustics.rt60_bands.items()},
    "est_t60_bands": {str(k): v for k, v in t60_per_band.items()},
    "estoi": {"reverberant": float(estoi(c, r)), "estimate": float(estoi(c, e))},
    "si_sdr": {"reverberant": float(si_sdr(c, r)), "estimate": float(si_sdr(c, e))},
}
print(f"T60 true {room.acoustics.rt60:.2f} s, estimated {result.info['t60_broadband']:.2f} s")
for band, t60 in t60_per_band.items():
    print(f"  {band:6.0f} Hz: true {room.acoustics.rt60_bands[band]:.2f} s, estimated {t60:.2f} s")
print("ESTOI", summary["dereverb"]["estoi"], "SI-SDR", summary["dereverb"]["si_sdr"])

# %%
true_rir = room.rir[: est_rir.size]
fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
t_true = np.arange(true_rir.size) / 16000
t_est = np.arange(est_rir.size) / 16000
axes[0].plot(t_true, true_rir, lw=0.5, label="true (pyroomacoustics)")
axes[0].plot(t_est, est_rir, lw=0.5, alpha=0.7, label="estimated")
axes[0].set_xlim(0, 0.4)
axes[0].set_ylim(-0.3, 0.3)
axes[0].set_title("impulse responses (direct path at 0, clipped)")
axes[0].legend(fontsize=7)
axes[1].plot(
    t_true[: len(energy_decay_curve_db(true_rir))],
    energy_decay_curve_db(true_rir),
    label=f"true, T30 {room.acoustics.rt60:.2f} s",
)
axes[1].plot(
    t_est[: len(energy_decay_curve_db(est_rir))],
    energy_decay_curve_db(est_rir),
    label=f"estimated, T30 {result.info['t60_broadband']:.2f} s",
)
axes[1].set_ylim(-60, 2)
axes[1].set_title("Schroeder energy decay (dB)")
axes[1].legend(fontsize=7)
centres = list(t60_per_band)
axes[2].plot(centres, [room.acoustics.rt60_bands[k] for k in centres], "o-", label="true")
axes[2].plot(centres, list(t60_per_band.values()), "s-", label="estimated")
axes[2].set_xscale("log")
axes[2].set_xlabel("band centre (Hz)")
axes[2].set_title("T60 per octave band (s)")
axes[2].legend(fontsize=7)
fig.tight_layout()
with atomic_path(OUT / "dereverb_rir.png") as tmp:
    fig.savefig(tmp, dpi=90)
plt.show()  # inline in a notebook; a no-op when run as a script
write_json_atomic(OUT / "summary.json", summary)
print(f"figures and summary in {OUT}")
