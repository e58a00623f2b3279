"""Small simulated rooms shared by the scene-model tests, simulated once per session."""

from __future__ import annotations

import numpy as np
import pytest


def speech_like(seed: int, seconds: float = 3.0, sample_rate: int = 16000) -> np.ndarray:
    """A speech-like test signal: voiced syllables (harmonics of a gliding 90-220 Hz pitch
    with a random spectral tilt, 80-260 ms, Hann envelope) and fricative noise bursts,
    separated by 40-350 ms pauses in which a room's decay can be heard; peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    out = np.zeros(n)
    pos = int(rng.uniform(0.0, 0.1) * sample_rate)
    while pos < n:
        length = int(rng.uniform(0.08, 0.26) * sample_rate)
        t = np.arange(length) / sample_rate
        if rng.random() < 0.75:
            f0 = rng.uniform(90, 220) * (1 + rng.uniform(-0.15, 0.15) * t / t[-1])
            phase = 2 * np.pi * np.cumsum(f0) / sample_rate
            tilt = rng.uniform(0.6, 1.4)
            seg = sum(
                np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**tilt
                for k in range(1, int(4000 / f0.max()))
            )
        else:
            seg = rng.standard_normal(length) * 0.3
        seg = seg * np.hanning(length)
        end = min(n, pos + length)
        out[pos:end] += seg[: end - pos]
        pos = end + int(rng.uniform(0.04, 0.35) * sample_rate)
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


@pytest.fixture(scope="session")
def scene_rooms():
    """48 simulated rooms (hybrid simulator, the kit's default sampler): pictures
    ``(48, 3, 128, 128)``, acoustic labels ``(48, 7)``, RIRs, broadband RT60s ``(48,)`` and one
    3-second reverberant speech-like clip per room. About 16 s."""
    import torch

    from avgen.data.rooms.acoustics import reverberate, simulate_room
    from avgen.data.rooms.picture import render_room
    from avgen.data.rooms.spec import sample_room
    from avgen.models.scene.acoustic_head import acoustic_labels
    from avgen.models.scene.embedding import picture_tensor

    rooms = [simulate_room(sample_room(seed)) for seed in range(48)]
    pictures = torch.cat([picture_tensor(render_room(r.spec)) for r in rooms])
    labels = acoustic_labels([r.acoustics for r in rooms])
    rt60 = torch.tensor([r.acoustics.rt60 for r in rooms], dtype=torch.float32)
    waves = [
        torch.from_numpy(reverberate(speech_like(1000 + i), r.rir)) for i, r in enumerate(rooms)
    ]
    return {
        "pictures": pictures,
        "labels": labels,
        "rirs": [r.rir for r in rooms],
        "rt60": rt60,
        "waves": waves,
    }
