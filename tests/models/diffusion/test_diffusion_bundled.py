"""The small diffusion prior shipped in the package: present, small, loadable, and a better
denoiser of unseen speech than the zero network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avgen.checkpoint import load_checkpoint
from avgen.models.diffusion import (
    MODEL_NAME,
    UNetConfig,
    bundled_prior_path,
    load_diffusion_prior,
    segment_samples,
    unet_config,
    waveform_to_tensor,
)
from avgen.models.diffusion.validation import validation_losses, validation_sigmas


def test_bundled_prior_is_a_small_checkpoint_with_its_card():
    path = bundled_prior_path()
    assert path.stat().st_size < 10e6
    ckpt = load_checkpoint(path, expected_model=MODEL_NAME)
    assert UNetConfig.from_dict(ckpt.config["unet"]) == unet_config("small")
    assert "raw_state_dict" not in ckpt.extra and "optimizer" not in ckpt.extra
    card = path.with_suffix(".md").read_text()
    assert f"{ckpt.config['sigma_data']:.4f}" in card


def test_the_prior_loader_is_exported_by_avgen_models():
    import avgen.models

    assert avgen.models.load_diffusion_prior is load_diffusion_prior
    assert "load_diffusion_prior" in avgen.models.__all__


def test_bundled_prior_loads_frozen_and_denoises_a_batch():
    den = load_diffusion_prior()
    assert not den.training and not any(p.requires_grad for p in den.parameters())
    x = torch.randn(2, 2, 256, 32) * den.sigma_data
    with torch.no_grad():
        out = den(x, torch.tensor([0.01, 1.0]))
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.system
def test_bundled_prior_beats_the_zero_network_on_a_voice_it_never_heard():
    from avgen.data.speech.tts import synthesize_flite

    torch.set_num_threads(1)
    den = load_diffusion_prior()
    texts = [
        "The birch canoe slid on the smooth planks.",
        "Glue the sheet to the dark blue background.",
        "It is easy to tell the depth of a well.",
    ]
    segs = []
    n = segment_samples(128)
    for text in texts:  # flite slt: a test-split person of the kit
        wav = synthesize_flite(text, "slt").waveform
        wav = wav * (10 ** (-26 / 20) / np.sqrt(np.mean(wav.astype(np.float64) ** 2)))
        segs.append(torch.from_numpy(wav[:n].astype(np.float32)))
    x0 = waveform_to_tensor(torch.stack(segs))
    cfg = den.checkpoint_config
    sigmas = validation_sigmas(6, cfg["p_mean"], cfg["p_std"])
    loss, baseline = validation_losses(den, x0, sigmas, seed=0)
    # deterministic numbers (fixed noise); the zero network scores about 1
    assert loss < 0.75 * baseline
