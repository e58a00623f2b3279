"""The blind RT60 estimator of the stylization metric, one that hears through ambience.

The estimator bundled beside MVSD (:func:`avgen.pipelines.scene.mvsd.bundled_rt60_estimator`)
was trained on noise-free reverberant speech and reads ambience as reverberation. The one here
has the same architecture (AViTAR's ResNet-18 on :math:`\\log(1 + |\\mathrm{STFT}|)`,
:mod:`avgen.models.scene.rt60_estimator`) and trainer, trained on the same room kit's seen
rooms with noise-bank ambience mixed in at SNR :math:`\\sim U(0, 20)` dB (20 % clean) and
open-air-like responses added, the label still the response's Schroeder T30
(``scripts/train_rt60_ambient.py``; data, settings and held-out MAE in
``avgen/assets/stylize/rt60-estimator-ambient.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avgen.errors import CheckpointError

BUNDLED_AMBIENT_RT60_ESTIMATOR = "rt60-estimator-ambient.pt"
"""File name of the ambient-robust estimator in ``avgen/assets/stylize/``."""


def bundled_ambient_rt60_path() -> Path:
    """Where the ambient-robust estimator is bundled (whether or not it exists)."""
    return (
        Path(__file__).resolve().parents[1] / "assets" / "stylize" / BUNDLED_AMBIENT_RT60_ESTIMATOR
    )


def has_bundled_ambient_rt60_estimator() -> bool:
    """Whether the ambient-robust estimator's weights are bundled."""
    return bundled_ambient_rt60_path().exists()


def bundled_ambient_rt60_estimator() -> Any:
    """The bundled ambient-robust :class:`~avgen.models.scene.rt60_estimator.Rt60Estimator`
    (eval mode); :class:`CheckpointError` when the weights are not bundled."""
    from avgen.models.scene.rt60_estimator import load_rt60_estimator

    path = bundled_ambient_rt60_path()
    if not path.exists():
        raise CheckpointError(f"no bundled ambient RT60 estimator at {path}")
    return load_rt60_estimator(path)


def default_rt60_estimator() -> Any:
    """The estimator of the stylization RTE: the ambient-robust one when bundled, else the one
    bundled beside MVSD."""
    if has_bundled_ambient_rt60_estimator():
        return bundled_ambient_rt60_estimator()
    from avgen.pipelines.scene.mvsd import bundled_rt60_estimator

    return bundled_rt60_estimator()
