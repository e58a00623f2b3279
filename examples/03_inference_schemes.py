# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 03 — Inference schemes for the VAE-NMF model: MH, MALA, Langevin, VEM
#
# The unsupervised enhancement model: per frame `t`, `z_t ~ N(0, I)`, a decoder gives the
# source variance `v_t = exp(dec(z_t))`, and the observation is `x = sqrt(g) s + b` with
# `s_ft ~ N_c(0, v_ft)` and noise `b_ft ~ N_c(0, (WH)_ft)`. Monte-Carlo EM estimates
# `W, H, g` from `x` alone; the E-step needs `p(z | x)`, frame by frame. Four E-steps, one
# driver (`inference.em.run_em`), one per-frame log density:
#
# * **MH** — random-walk Metropolis-Hastings, accept/reject per frame (the papers' E-step);
# * **MALA** — Langevin proposal + Metropolis correction;
# * **Langevin** — unadjusted Langevin steps (the "LDEM" variant: no rejections, O(step²) bias);
# * **VEM** — variational E-step: an encoder's Gaussian `q(z_t)` fine-tuned on the ELBO.
#
# Here the decoder is a small random network and the "utterance" is simulated from the model,
# so the true source and noise are known: errors are measured against the truth. Example 04 runs
# the same schemes on real speech with the bundled priors.
# `AVGEN_EXAMPLE_FAST=1` runs a small setting in well under a minute.

# %%
from __future__ import annotations

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch import nn

from avgen.files import atomic_path, write_json_atomic
from inference.adaptation import DualAveraging
from inference.chain import MALA, RWM, ULA, run_chain
from inference.diagnostics import acceptance_summary, effective_sample_size
from inference.esteps import LangevinEStep, MHEStep
from inference.nmf import init_nmf, nmf_variance
from inference.nmf_em import GaussianScaleNMF, posterior_mean_source
from inference.vem import VariationalEStep

FAST = os.environ.get("AVGEN_EXAMPLE_FAST", "0") == "1"
OUT = Path(os.environ.get("AVGEN_EXAMPLE_OUTPUT", "runs/examples")) / "03_inference_schemes"
SEED = 0
N_FRAMES, N_BINS, LATENT, RANK = (80, 64, 8, 4) if FAST else (250, 257, 16, 8)
N_ITER = 12 if FAST else 60
torch.manual_seed(SEED)
torch.set_num_threads(1 if FAST else 2)

# %% [markdown]
# ## A decoder and a noisy observation simulated from the model

# %%
gen = torch.Generator().manual_seed(SEED)
decoder = nn.Sequential(nn.Linear(LATENT, 64), nn.Tanh(), nn.Linear(64, N_BINS))
with torch.no_grad():
    decoder[2].weight.mul_(3.0)
    decoder[2].bias.sub_(1.0)
decoder.requires_grad_(False)


def complex_normal(variance: torch.Tensor) -> torch.Tensor:
    re, im = torch.randn(variance.shape, generator=gen), torch.randn(variance.shape, generator=gen)
    return torch.complex(re, im) * (variance / 2).sqrt()


z_true = torch.randn(N_FRAMES, LATENT, generator=gen)
source = complex_normal(decoder(z_true).exp())
W_true = torch.rand(N_BINS, RANK, generator=gen).square()
H_true = torch.rand(RANK, N_FRAMES, generator=gen)
noise_variance = nmf_variance(W_true, H_true)
noise_variance *= source.abs().square().mean() / noise_variance.mean()  # about 0 dB
x = source + complex_normal(noise_variance)
power = x.abs().square()


def snr_db(estimate: torch.Tensor) -> float:
    """10 log10(||s||^2 / ||estimate - s||^2) against the true source."""
    return float(
        10 * torch.log10(source.abs().square().sum() / (estimate - source).abs().square().sum())
    )


print(f"T={N_FRAMES} F={N_BINS} L={LATENT}; input SNR {snr_db(x):.2f} dB")

# %% [markdown]
# ## An encoder for VEM, fitted quickly on clean simulations
#
# VEM starts from an amortised posterior `q(z | |s|^2)`; here a small encoder trained for a few
# hundred Adam steps on spectra simulated from the prior (a VAE whose decoder is frozen).

# %%


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(N_BINS, 64), nn.Tanh(), nn.Linear(64, 2 * LATENT))

    def forward(self, power_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(power_in.clamp_min(1e-8).log())
        return out[..., :LATENT], out[..., LATENT:]


encoder = Encoder()
optimizer = torch.optim.Adam(encoder.parameters(), lr=3e-3)
for _ in range(150 if FAST else 600):
    z = torch.randn(256, LATENT, generator=gen)
    variance = decoder(z).exp()
    clean_power = complex_normal(variance).abs().square()
    mean, log_var = encoder(clean_power)
    draw = mean + (0.5 * log_var).exp() * torch.randn(mean.shape, generator=gen)
    decoded = decoder(draw).exp()
    log_lik = -(decoded.log() + clean_power / decoded).sum(-1)
    kl = 0.5 * (mean.square() + log_var.exp() - log_var - 1).sum(-1)
    loss = (kl - log_lik).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
encoder.requires_grad_(True)
print(f"encoder fitted: negative ELBO per frame {float(loss.detach()):.1f}")

# %% [markdown]
# ## Four E-steps, one EM driver
#
# All runs start from the same NMF initialisation, the same chain position (the encoder's mean
# for the noisy input) and the same number of EM iterations. The objective recorded by the
# driver is the sample-averaged Itakura-Saito divergence per time-frequency bin after each
# M-step (lower is better; it is `-Q / (T F)` up to constants of the data).

# %%
start_params = init_nmf(power, RANK, torch.Generator().manual_seed(SEED + 1))
with torch.no_grad():
    start_position = encoder(power)[0]

schemes = {
    "MH": MHEStep(RWM, n_steps=40, burn_in=30, step_size=0.1, adapt=DualAveraging(0.3)),
    "MALA": MHEStep(MALA, n_steps=20, burn_in=10, step_size=0.1, adapt=DualAveraging(0.6)),
    "Langevin": LangevinEStep(n_steps=20, burn_in=10, step_size=0.05),
    "VEM": VariationalEStep(encoder, power, n_updates=5, lr=3e-3, n_samples=10),
}
results = {}
for name, e_step in schemes.items():
    problem = GaussianScaleNMF(power, decoder, e_step)
    state = problem.init_state(RANK, start_position.clone(), params=start_params)
    started = time.perf_counter()
    state, history = problem.run(
        state, n_iter=N_ITER, generator=torch.Generator().manual_seed(SEED + 2)
    )
    seconds = time.perf_counter() - started
    noise_error = float(
        (nmf_variance(state.params.W, state.params.H) / noise_variance).log().abs().mean()
    )
    results[name] = {
        "history": history,
        "state": state,
        "seconds": seconds,
        "snr_db": snr_db(posterior_mean_source(x, state)),
        "noise_log_error": noise_error,
    }
    print(
        f"{name:<9} objective {history.objective[-1]:.4f}  "
        f"{seconds / history.n_iter * 1e3:7.1f} ms/iter  output SNR "
        f"{results[name]['snr_db']:.2f} dB  noise |log ratio| {noise_error:.3f}"
    )

# %% [markdown]
# ## Mixing at the final parameters: acceptance and ESS per second
#
# For the Monte-Carlo E-steps, run one longer chain at each scheme's final parameters and
# measure the effective sample size per frame (averaged over frames and latent dimensions) per
# second of sampling. VEM has no chain: its `q` is independent draws but only approximate.

# %%
ess_steps = 200 if FAST else 1000
mixing = {}
for name, kernel in (("MH", RWM), ("MALA", MALA)):
    state = results[name]["state"]
    density = GaussianScaleNMF(power, decoder, schemes[name]).log_density(state.params)
    step = state.sampler.step_size  # adapted during the EM iterations
    gen_chain = torch.Generator().manual_seed(SEED + 3)
    started = time.perf_counter()
    chain = run_chain(
        kernel,
        state.position[0] if state.position.ndim == 3 else state.position,
        density,
        n_steps=ess_steps,
        step_size=step,
        generator=gen_chain,
    )
    seconds = time.perf_counter() - started
    ess = float(effective_sample_size(chain.samples, chain_dim=None).mean())
    summary = acceptance_summary(chain.acceptance_rate)
    mixing[name] = {
        "ess_per_frame": ess,
        "ess_per_s": ess / seconds,
        "chain_acceptance": summary.mean,
    }
    print(
        f"{name:<5} {summary}; ESS/frame {ess:.1f} in {seconds:.2f} s ({ess / seconds:.1f} per s)"
    )

# Langevin: no accept/reject; its chain is measured the same way with ULA.
state = results["Langevin"]["state"]
density = GaussianScaleNMF(power, decoder, schemes["Langevin"]).log_density(state.params)
started = time.perf_counter()
chain = run_chain(
    ULA,
    state.position,
    density,
    n_steps=ess_steps,
    step_size=schemes["Langevin"].step_size,
    generator=torch.Generator().manual_seed(SEED + 3),
)
seconds = time.perf_counter() - started
ess = float(effective_sample_size(chain.samples, chain_dim=None).mean())
mixing["Langevin"] = {"ess_per_frame": ess, "ess_per_s": ess / seconds, "chain_acceptance": None}
print(f"Langevin ESS/frame {ess:.1f} in {seconds:.2f} s ({ess / seconds:.1f} per s)")

# %% [markdown]
# ## Summary table and convergence plot

# %%
header = (
    f"{'scheme':<9} {'objective':>9} {'ms/iter':>8} {'accept':>7} {'ESS/frame/s':>11} "
    f"{'SNR out dB':>10} {'noise err':>9}"
)
print(header)
print("-" * len(header))
for name, r in results.items():
    h = r["history"]
    acc = h.column("acceptance_rate")[-1]
    acc_text = "-" if acc is None else f"{acc:.3f}"
    ess_text = "-" if name not in mixing else f"{mixing[name]['ess_per_s']:.1f}"
    print(
        f"{name:<9} {h.objective[-1]:>9.4f} {r['seconds'] / h.n_iter * 1e3:>8.1f} "
        f"{acc_text:>7} {ess_text:>11} {r['snr_db']:>10.2f} {r['noise_log_error']:>9.3f}"
    )

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, r in results.items():
    h = r["history"]
    axes[0].plot(range(1, h.n_iter + 1), h.objective, label=name)
    axes[1].plot(range(1, h.n_iter + 1), [1e3 * s for s in h.column("seconds")], label=name)
axes[0].set(xlabel="EM iteration", ylabel="mean IS divergence", yscale="log", title="objective")
axes[1].set(xlabel="EM iteration", ylabel="ms", title="time per iteration")
axes[0].legend()
fig.tight_layout()
with atomic_path(OUT / "convergence.png") as tmp:
    fig.savefig(tmp, dpi=100)
plt.show()  # inline in a notebook; a no-op when run as a script
write_json_atomic(
    OUT / "summary.json",
    {
        name: {
            "objective": r["history"].objective,
            "acceptance": r["history"].column("acceptance_rate"),
            "seconds": r["history"].column("seconds"),
            "snr_db": r["snr_db"],
            "noise_log_error": r["noise_log_error"],
            **mixing.get(name, {}),
        }
        for name, r in results.items()
    },
)
print(f"wrote {OUT / 'convergence.png'} and {OUT / 'summary.json'}")
