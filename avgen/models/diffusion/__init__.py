"""Diffusion priors of speech: the denoiser network, its conditioning, and its training.

* :mod:`.spectra`: waveform <-> compressed complex STFT <-> ``(B, 2, 256, T)`` tensors,
  padding to the network's factor, random segments, ``sigma_data``;
* :mod:`.configs`: :class:`UNetConfig`, the sizes ``tiny`` / ``small`` / ``base`` and
  :class:`DiffusionTrainConfig`;
* :mod:`.conditioning`: :class:`Conditioning` (FiLM embedding, concatenated spectrogram,
  cross-attention context);
* :mod:`.layers`, :mod:`.unet`: the U-Net ``net(x_in, c_noise, cond)`` that
  :class:`inference.diffusion.precond.EDMDenoiser` wraps;
* :mod:`.train`: denoising score matching (EDM) with EMA, clipping, AMP and DDP
  (:mod:`.distributed`), validated by :mod:`.validation`;
* :mod:`.checkpoints`: the checkpoint format, :func:`load_diffusion_prior`,
  :func:`export_prior`, the bundled prior;
* :mod:`.kit`: :func:`train_from_kit` and the model card.

See ``docs/models-diffusion.md``.
"""

from avgen.models.diffusion.checkpoints import (
    MODEL_NAME,
    bundled_prior_path,
    export_prior,
    load_diffusion_prior,
)
from avgen.models.diffusion.conditioning import Conditioning
from avgen.models.diffusion.configs import SIZES, DiffusionTrainConfig, UNetConfig, unet_config
from avgen.models.diffusion.kit import train_from_kit, write_model_card
from avgen.models.diffusion.spectra import (
    crop_frames,
    measure_sigma_data,
    pad_frames,
    random_segments,
    segment_samples,
    spec_to_tensor,
    tensor_to_spec,
    tensor_to_waveform,
    waveform_to_tensor,
)
from avgen.models.diffusion.train import DiffusionPriorFit, fit_diffusion_prior
from avgen.models.diffusion.unet import UNet, build_denoiser, count_parameters

__all__ = [
    "MODEL_NAME",
    "SIZES",
    "Conditioning",
    "DiffusionPriorFit",
    "DiffusionTrainConfig",
    "UNet",
    "UNetConfig",
    "build_denoiser",
    "bundled_prior_path",
    "count_parameters",
    "crop_frames",
    "export_prior",
    "fit_diffusion_prior",
    "load_diffusion_prior",
    "measure_sigma_data",
    "pad_frames",
    "random_segments",
    "segment_samples",
    "spec_to_tensor",
    "tensor_to_spec",
    "tensor_to_waveform",
    "train_from_kit",
    "unet_config",
    "waveform_to_tensor",
    "write_model_card",
]
