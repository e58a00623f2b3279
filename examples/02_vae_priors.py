# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 02 — VAE speech priors: training a MIN-VAE, reconstructions, latents, the visual weight
#
# A VAE speech prior says how a clean short-time power spectrum frame `s_t` can look:
# `z_t ~ p(z)`, `s_ft | z_t ~ N_c(0, sigma2_f(z_t))`. The MIN-VAE (Sadeghi & Alameda-Pineda,
# IEEE TSP 2021) infers `z_t` with a **mixture** of two inference networks, one reading the
# audio frame and one reading the mouth region, chosen per frame by a latent
# `alpha_t ~ Bernoulli(pi)`. Trained with audio that is sometimes corrupted, it learns to trust
# the lips when the audio is bad: that is what makes it useful under noise nobody trained on.
#
# Here we train small A-VAE, V-VAE and MIN-VAE priors on a data kit (the paper's recipe: the
# MIN-VAE starts from the A-VAE's audio encoder and decoder and the V-VAE's visual encoder),
# then look at reconstructions, latent traversals, and the posterior mixture weight of the
# visual branch as the audio input is corrupted more and more.
#
# `AVGEN_KIT` selects a kit (default: build the `small` kit, about a minute);
# `AVGEN_EXAMPLE_FAST=1` trains a few epochs only.

# %%
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from avgen.data.kit.build import BuildOptions, build_kit
from avgen.models.vae import TrainConfig, build_model, fit
from avgen.models.vae.elbo import evaluate_elbo
from avgen.models.vae.kit import load_kit_frames
from avgen.models.vae.min_vae import visual_weight_by_snr

FAST = os.environ.get("AVGEN_EXAMPLE_FAST") == "1"
OUT = Path(os.environ.get("AVGEN_EXAMPLE_OUTPUT", "example-output")) / "02_vae_priors"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
torch.set_num_threads(1)

kit = (
    Path(os.environ["AVGEN_KIT"])
    if os.environ.get("AVGEN_KIT")
    else build_kit(OUT / "kit-small", BuildOptions(size="small", seed=SEED))
)

# %% [markdown]
# ## Frames of the kit
#
# Training frames are the power spectra `|s_t|^2` (513 bins, sine window 1024, hop 256) of the
# train split, each with the mouth region at its time (32x32 pixels); validation frames come
# from the val split, whose speakers never appear in training.

# %%
size = {"size": "small"}
probe = build_model("a-vae", **size)
train = load_kit_frames(kit, "train", probe.config.lip_dim)
val = val_all = load_kit_frames(kit, "val", probe.config.lip_dim)
if FAST:  # a few thousand random frames are enough to see the mechanics
    pick = torch.Generator().manual_seed(SEED)
    train = train.take(torch.randperm(train.n_frames, generator=pick)[:4000])
    val = val.take(torch.randperm(val.n_frames, generator=pick)[:1500])
print(f"{train.n_frames} training frames, {val.n_frames} validation frames")
epochs = 3 if FAST else 20
config = TrainConfig(epochs=epochs, batch_size=128, lr=2e-3, patience=None)

# %% [markdown]
# ## Train A-VAE, V-VAE (on the A-VAE's frozen decoder), then MIN-VAE from both

# %%
a_vae = fit(build_model("a-vae", **size), train, val, config, seed=SEED, progress=False).model
v_vae = build_model("v-vae", **size)
v_vae.init_from(a_vae)
v_vae = fit(
    v_vae,
    train,
    val,
    TrainConfig(epochs=epochs, batch_size=128, lr=2e-3, patience=None, freeze_decoder=True),
    seed=SEED,
    progress=False,
).model
min_vae = build_model("min-vae", **size)
min_vae.init_from(a_vae, v_vae)
result = fit(min_vae, train, val, config, seed=SEED, progress=False)
min_vae = result.model.eval()
elbos = {
    name: evaluate_elbo(m, val, seed=SEED)
    for name, m in (("a-vae", a_vae), ("v-vae", v_vae), ("min-vae", min_vae))
}
print("validation ELBO (nats/frame): " + ", ".join(f"{k} {v:.1f}" for k, v in elbos.items()))
fig, ax = plt.subplots(figsize=(5, 3), constrained_layout=True)
ax.plot([r.epoch for r in result.history], [r.val_elbo for r in result.history], "o-")
ax.set(xlabel="epoch", ylabel="val ELBO / frame", title="MIN-VAE training")
fig.savefig(OUT / "training.png", dpi=80)
plt.show()  # inline in a notebook; a no-op when run as a script

# %% [markdown]
# ## Reconstructions
#
# The decoder's variance `sigma2(z)` at the audio encoder's mean, and at the visual encoder's
# mean: the lips alone recover the coarse envelope, not the harmonics.

# %%
segment = slice(0, 200)  # two seconds of one validation utterance or so, in order
power, lips = val_all.power[segment], val_all.lips[segment]
with torch.no_grad():
    from_audio = min_vae.decode(min_vae.encode_audio(power)[0])
    from_lips = min_vae.decode(min_vae.encode_visual(lips)[0])
fig, axes = plt.subplots(3, 1, figsize=(9, 7), constrained_layout=True, sharex=True)
for ax, x, title in zip(
    axes,
    (power, from_audio, from_lips),
    ("clean power", "decoded from the audio encoder", "decoded from the visual encoder"),
):
    ax.imshow(10 * torch.log10(x.T + 1e-10), origin="lower", aspect="auto")
    ax.set(title=title, ylabel="bin")
axes[-1].set_xlabel("frame")
fig.savefig(OUT / "reconstructions.png", dpi=80)
plt.show()  # inline in a notebook; a no-op when run as a script

# %% [markdown]
# ## Latent traversals
#
# Move along one latent coordinate from -2 to 2 (others at 0) and decode: each dimension
# controls a part of the spectral envelope.

# %%
values = torch.linspace(-2, 2, 9)
fig, axes = plt.subplots(1, 4, figsize=(12, 3), constrained_layout=True, sharey=True)
for dim, ax in enumerate(axes):
    z = torch.zeros(len(values), min_vae.config.latent_dim)
    z[:, dim] = values
    with torch.no_grad():
        spectra = 10 * torch.log10(min_vae.decode(z))
    for v, row in zip(values, spectra):
        ax.plot(row, lw=0.8, color=plt.cm.viridis(float((v + 2) / 4)))
    ax.set(title=f"z[{dim}] from -2 to 2", xlabel="bin")
axes[0].set_ylabel("dB")
fig.savefig(OUT / "traversals.png", dpi=80)
plt.show()  # inline in a notebook; a no-op when run as a script

# %% [markdown]
# ## The visual branch's mixture weight as the audio is corrupted
#
# `r_t = q(alpha_t = visual | s_t, v_t)`: the posterior probability that frame t's latent
# comes from the visual encoder. White noise is added to the audio encoder's input at falling
# SNR while the likelihood still scores the clean frame; the weight should rise.

# %%
snrs = [None, 20.0, 10.0, 5.0, 0.0, -5.0, -10.0]
with torch.no_grad():
    curve = visual_weight_by_snr(min_vae, val.power, val.lips, snrs, seed=SEED)
labels = ["clean" if s is None else f"{s:+.0f}" for s in snrs]
fig, ax = plt.subplots(figsize=(5, 3), constrained_layout=True)
ax.errorbar(range(len(snrs)), curve[:, 0], yerr=2 * curve[:, 1], marker="o")
ax.set_xticks(range(len(snrs)), labels)
ax.set(
    xlabel="audio-encoder input SNR (dB)",
    ylabel="mean r_t",
    ylim=(0, 1),
    title="visual mixture weight",
)
fig.savefig(OUT / "visual_weight.png", dpi=80)
plt.show()  # inline in a notebook; a no-op when run as a script
print("visual weight: " + ", ".join(f"{lab} {w:.2f}" for lab, w in zip(labels, curve[:, 0])))

# %%
(OUT / "summary.json").write_text(
    json.dumps(
        {
            "val_elbo": elbos,
            "visual_weight": dict(zip(labels, map(float, curve[:, 0]))),
            "epochs": epochs,
            "train_frames": train.n_frames,
        },
        indent=1,
    )
)
print(f"figures and summary in {OUT}")
