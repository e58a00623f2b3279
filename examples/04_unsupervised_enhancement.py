# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 04 — Unsupervised speech enhancement, with and without the lips
#
# One noisy clip (the bundled demo: recorded Italian speech, babble noise never seen in
# training, 0 dB) from noisy to enhanced. Nothing about the noise is trained: a VAE speech
# prior is combined with an NMF noise model whose parameters are fitted to this recording
# alone by Monte-Carlo EM (`avgen.pipelines.vae_nmf.pipeline.enhance`). Per STFT bin,
#
# $$x_{ft}=\sqrt{g_t}\,s_{ft}+b_{ft},\qquad s_{ft}\mid z_t\sim\mathcal N_c(0,\sigma^2_f(z_t)),
# \qquad b_{ft}\sim\mathcal N_c(0,(WH)_{ft}).$$
#
# * **without lips**: the A-VAE (Leglaive et al. 2018), chains started from its encoder on the
#   noisy input;
# * **with lips**: the MIN-VAE (Sadeghi & Alameda-Pineda 2021), chains started from its
#   *visual* encoder, which reads the mouth and knows nothing of the noise.
#
# The estimate is the posterior mean, a Wiener filter averaged over posterior samples; the
# posterior variance per bin is an **uncertainty map**. `AVGEN_EXAMPLE_FAST=1` runs a
# shortened schedule in a few seconds (and falls back to untrained small priors when the bundled
# weights are not installed: then the numbers mean nothing, the code path is the same).
# `AVGEN_EXAMPLE_MODELS=DIR` takes the priors from `DIR/<name>.pt` instead of the bundled ones.

# %%
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from avgen.audio import save_audio
from avgen.errors import CheckpointError
from avgen.files import write_json_atomic
from avgen.metrics import evaluate
from avgen.models import load_model
from avgen.models.vae import build_model
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.pipelines.vae_nmf.figure import render_figure
from avgen.pipelines.vae_nmf.report import describe_result
from avgen.samples import bundled_clip_dir, clip_summary, read_clip

FAST = os.environ.get("AVGEN_EXAMPLE_FAST", "0") == "1"
OUT = Path(os.environ.get("AVGEN_EXAMPLE_OUTPUT", "runs/examples")) / "04_unsupervised_enhancement"
OUT.mkdir(parents=True, exist_ok=True)
SCHEDULE = EMSchedule(n_iter=3, n_steps=8, burn_in=4) if FAST else EMSchedule()  # the default
torch.set_num_threads(1)


def show_inline(*pngs: Path) -> None:
    """Show saved figures inline in a notebook; a no-op when run as a script."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is not None:
        for png in pngs:
            display(Image(filename=str(png)))


# %% [markdown]
# ## The clip and the two priors

# %%
noisy, clean, lips, fps, provenance = read_clip(bundled_clip_dir())
clip = clip_summary(provenance)
print(
    f"{clip['id']}: {noisy.numel() / 16000:.2f} s, {lips.shape[0]} lip frames at "
    f"{fps:g} fps; {clip['noise_type']} noise ({clip['noise_split']} in training) at "
    f"{clip['snr_db']:g} dB"
)


MODELS_DIR = os.environ.get("AVGEN_EXAMPLE_MODELS")  # a folder of <name>.pt, else bundled


def prior(name: str):
    """The bundled prior (or ``$AVGEN_EXAMPLE_MODELS/<name>.pt``); with no weights installed,
    an untrained small one, said aloud."""
    try:
        if MODELS_DIR:
            return load_model(Path(MODELS_DIR) / f"{name}.pt"), str(Path(MODELS_DIR) / name)
        return load_model(name), "bundled"
    except CheckpointError:
        print(f"note: no bundled {name}; using an untrained small {name} (numbers meaningless)")
        return build_model(name, size="small", seed=0).eval(), "untrained"


audio_only, audio_origin = prior("a-vae")
audio_visual, av_origin = prior("min-vae")

# %% [markdown]
# ## Enhance: without lips (A-VAE), with lips (MIN-VAE)

# %%
without = enhance(noisy, audio_only, schedule=SCHEDULE, seed=0)
print(describe_result(without, source="the clip"), end="\n\n")
with_lips = enhance(noisy, audio_visual, lips=lips, fps=fps, schedule=SCHEDULE, seed=0)
print(describe_result(with_lips, source="the clip"))
save_audio(OUT / "noisy.wav", noisy)
save_audio(OUT / "enhanced_a-vae.wav", without.estimate)
save_audio(OUT / "enhanced_min-vae.wav", with_lips.estimate)

# %%
scores = {
    "noisy": evaluate(clean, noisy),
    "a-vae (no lips)": evaluate(clean, without.estimate),
    "min-vae (lips)": evaluate(clean, with_lips.estimate),
}
print(f"{'':18} PESQ-WB  ESTOI  SI-SDR (dB)")
for name, m in scores.items():
    print(f"{name:18} {m['pesq_wb']:7.2f} {m['estoi']:6.3f} {m['si_sdr']:8.2f}")

# %% [markdown]
# ## The uncertainty map and what it means
#
# Given a posterior sample $z^{(r)}$, speech and noise are jointly Gaussian and the speech in
# bin $(f, t)$ has mean $G^{(r)}_{ft}x_{ft}$ and variance $g_t v^{(r)}_{ft}(WH)_{ft}/(g_t
# v^{(r)}_{ft}+(WH)_{ft})$. The map is the total posterior variance (law of total variance
# over the samples). It is small where the model is sure, either way: a bin that is clearly
# noise (gain near 0) or clearly speech (gain near 1); it is large where the speech and noise
# variances are comparable, or where the samples disagree. If it is a useful uncertainty, the
# bins it marks as uncertain should be where the estimate is actually wrong: we check the rank
# correlation between the posterior standard deviation and the actual error against the clean
# speech, over all bins (the clean speech is used only here, to check).

# %%
from scipy.stats import spearmanr

from avgen.audio import VAE_STFT, stft

clean_spec = stft(clean, VAE_STFT)


def calibration(result) -> dict:
    error = (result.spectrum - clean_spec).abs().square().numpy().ravel()
    variance = result.uncertainty.numpy().ravel()
    rho = spearmanr(variance, error).statistic
    # share of the squared error in the 10 % most uncertain bins
    top = variance >= np.quantile(variance, 0.9)
    return {
        "spearman_variance_error": float(rho),
        "error_share_top10pct_uncertain": float(error[top].sum() / error.sum()),
        "mean_posterior_variance_over_mean_error": float(
            variance.mean() / max(error.mean(), 1e-20)
        ),
    }


calib = {"a-vae": calibration(without), "min-vae": calibration(with_lips)}
for name, c in calib.items():
    print(
        f"{name}: Spearman(variance, error) {c['spearman_variance_error']:.2f}; the 10% most "
        f"uncertain bins hold {100 * c['error_share_top10pct_uncertain']:.0f}% of the squared "
        f"error; mean variance / mean error {c['mean_posterior_variance_over_mean_error']:.2f}"
    )

# %% [markdown]
# A strongly positive rank correlation, and far more than 10 % of the error in the 10 % most
# uncertain bins, mean the map points at the errors. The ratio of mean variance to mean error
# says whether it is calibrated in scale (1 would be; below 1, the posterior is over-confident,
# as the Monte-Carlo posterior of a misspecified model usually is: the speech prior was never
# trained on this speaker, and the noise is not exactly low-rank).

# %%
render_figure(with_lips, OUT / "min-vae.png", clean=clean, title="MIN-VAE with lips")
render_figure(without, OUT / "a-vae.png", clean=clean, title="A-VAE, audio only")
show_inline(OUT / "min-vae.png", OUT / "a-vae.png")
write_json_atomic(
    OUT / "summary.json",
    {
        "clip": clip["id"],
        "schedule": SCHEDULE.describe("mcem-mh"),
        "priors": {"a-vae": audio_origin, "min-vae": av_origin},
        "metrics": scores,
        "uncertainty": calib,
        "mean_visual_weight": with_lips.info["mean_visual_weight"],
        "objective": {"a-vae": without.history.objective, "min-vae": with_lips.history.objective},
    },
)
print(f"wrote {OUT}")
