"""The "write your own kernel" section of docs/inference.md runs as written: its pCN kernel
samples a conjugate posterior correctly, and `enhance` takes it as the scheme and reports it."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from avgen.pipelines.vae_nmf import EMSchedule, enhance
from inference.chain import run_chain
from inference.diagnostics import effective_sample_size
from tests.enhance.helpers import speech_from_prior, tiny_model

DOCS = Path(__file__).resolve().parents[2] / "docs" / "inference.md"


def _section_namespace() -> dict:
    text = DOCS.read_text().split("Write your own kernel and use it for enhancement")[1]
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    assert len(code.strip().splitlines()) < 40  # "a custom kernel in < 40 lines"
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    return namespace


def test_the_documented_pcn_kernel_samples_the_conjugate_posterior():
    """z ~ N(0, 1), y | z ~ N(z, s^2) per frame and dimension: posterior N(y / (1 + s^2),
    s^2 / (1 + s^2)); the chain's mean is within 4 Monte-Carlo standard errors."""
    pcn = _section_namespace()["PCN"]
    noise_var = 0.5
    y = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def log_joint(z):
        return -0.5 * z.square().sum(-1) - 0.5 * (y - z).square().sum(-1) / noise_var

    start = torch.zeros(16, 2, dtype=torch.float64)
    chain = run_chain(
        pcn,
        start,
        log_joint,
        n_steps=4000,
        step_size=0.5,
        burn_in=500,
        generator=torch.Generator().manual_seed(1),
    )
    samples = chain.samples  # (S, T, D)
    ess = effective_sample_size(samples.unsqueeze(1), chain_dim=1, sample_dim=0)  # (T, D)
    mcse = (noise_var / (1 + noise_var) / ess).sqrt()
    error = (samples.mean(0) - y / (1 + noise_var)).abs()
    assert bool((error < 4 * mcse).all()), float((error / mcse).max())


def test_enhance_takes_the_documented_kernel_and_reports_it_truthfully():
    pcn = _section_namespace()["PCN"]
    model = tiny_model("a-vae")
    clean = speech_from_prior(model, 40, seed=1)
    noisy = clean + 0.01 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    schedule = EMSchedule(rank=3, n_iter=3, n_steps=6, burn_in=3, proposal_variance=0.04)
    result = enhance(noisy, model, scheme=pcn, schedule=schedule, seed=0, keep_samples=True)
    assert result.info["scheme"] == "pcn"
    assert result.info["e_step"].startswith("pcn per frame, step size 0.2, 6 steps of which 3")
    assert "random-walk" not in result.info["schedule_text"]
    assert result.extras["samples"].shape == (3, 1, result.info["n_frames"], 4)
    assert 0.0 <= result.info["final_acceptance"] <= 1.0
    assert bool(torch.isfinite(result.estimate).all())
