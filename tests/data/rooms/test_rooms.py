"""Specification of avgen.data.rooms and its picture: seeded rooms, aligned unit-gain RIRs,
measured labels that follow the materials, deterministic pictures that follow them too."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from avgen.data.rooms.acoustics import measure_acoustics, reverberate, simulate_rir
from avgen.data.rooms.picture import render_room
from avgen.data.rooms.spec import RoomSpec, sample_room
from avgen.errors import ConfigError
from avgen.metrics import si_sdr

SR = 16_000


def _spec(
    walls: str = "plasterboard",
    floor: str = "carpet_cotton",
    ceiling: str = "ceiling_fissured_tile",
    **kw,
) -> RoomSpec:
    materials = dict.fromkeys(("west", "east", "south", "north"), walls)
    materials.update(floor=floor, ceiling=ceiling)
    return RoomSpec(
        (5.0, 4.0, 2.8), materials, source=(1.5, 2.2, 1.6), microphone=(3.6, 1.7, 1.3), **kw
    )


def test_sampling_is_deterministic_and_seeds_differ():
    assert sample_room(7) == sample_room(7)
    assert hash(sample_room(7)) == hash(sample_room(7))
    specs = [sample_room(s) for s in range(6)]
    assert len({json.dumps(s.to_dict(), sort_keys=True) for s in specs}) == 6
    for s in specs:
        assert 1.0 <= s.distance <= 4.0
        for p in (s.source, s.microphone):
            assert all(0.5 <= v <= d - 0.5 for v, d in zip(p[:2], s.dimensions[:2]))
        assert 0.15 <= s.eyring_rt60() <= 0.8


def test_spec_round_trips_through_json_and_rejects_nonsense():
    spec = sample_room(3)
    assert RoomSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    with pytest.raises(ConfigError, match="inside the room"):
        dataclasses.replace(spec, source=(100.0, 1.0, 1.0))
    with pytest.raises(ConfigError, match="unknown material"):
        _spec(walls="unobtainium")
    with pytest.raises(ConfigError, match="surfaces"):
        RoomSpec((4, 4, 3), {"floor": "carpet_thin"}, (1, 1, 1), (2, 2, 1))


def test_simulation_is_deterministic_with_ray_tracing():
    spec = sample_room(1)
    assert spec.ray_tracing
    np.testing.assert_array_equal(simulate_rir(spec), simulate_rir(spec))


def test_direct_path_is_at_sample_zero_with_unit_gain():
    # anechoic: the response is the direct path alone, so reverberating returns the clean signal
    anechoic = _spec(max_order=0, ray_tracing=False)
    rir = simulate_rir(anechoic)
    gen = np.random.default_rng(0)
    clean = np.convolve(gen.standard_normal(SR), np.hanning(9), mode="same").astype(np.float32)
    wet = reverberate(clean, rir)
    assert wet.shape == clean.shape and wet.dtype == np.float32
    assert float(si_sdr(clean, wet)) > 35.0
    assert np.sum(wet**2) / np.sum(clean**2) == pytest.approx(1.0, abs=0.02)
    # in reverberant rooms the first sample is still the unit direct path (up to what the
    # overlapping tails of early reflections and the ray tracer's diffuse part add to it)
    for seed in range(3):
        h = simulate_rir(sample_room(seed))
        assert h[0] == pytest.approx(1.0, abs=0.1)
        assert int(np.argmax(np.abs(h))) == 0


def test_reverberate_keeps_type_length_and_alignment():
    rir = np.zeros(50, dtype=np.float32)
    rir[3], rir[20] = 1.0, 0.5
    x = torch.randn(400)
    y = reverberate(x, rir, direct_index=3)
    assert isinstance(y, torch.Tensor) and y.shape == x.shape
    expected = x.clone()
    expected[17:] += 0.5 * x[:-17]
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=0)
    with pytest.raises(ConfigError):
        reverberate(x, rir, direct_index=60)


def test_rt60_grows_as_the_walls_absorb_less():
    # same geometry, walls from very absorbing to very reflecting, each material absorbing less
    # than the one before in every octave band; the measured T30 must increase, like Eyring's
    walls = ["panel_fabric_covered_6pcf", "wooden_lining", "plasterboard", "brickwork"]
    specs = [_spec(walls=w) for w in walls]
    measured = [measure_acoustics(simulate_rir(s)).rt60 for s in specs]
    eyring = [s.eyring_rt60() for s in specs]
    assert eyring == sorted(eyring)
    assert measured == sorted(measured), measured
    assert 0.1 < measured[0] and measured[-1] < 3.0
    assert measured[-1] > 2 * measured[0]


def test_band_labels_follow_frequency_dependent_absorption():
    # curtains, carpet and a fissured-tile ceiling absorb far more at 4 kHz than at 125 Hz
    label = measure_acoustics(simulate_rir(_spec(walls="curtains_velvet")))
    assert set(label.rt60_bands) == {125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0}
    assert label.rt60_bands[125.0] > 1.5 * label.rt60_bands[4000.0]
    assert np.isfinite(label.drr_db)
    assert json.loads(json.dumps(label.to_dict()))["rt60"] == label.rt60


def test_picture_is_deterministic_small_and_follows_the_materials():
    brick = _spec(walls="brickwork")
    image = render_room(brick)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, render_room(brick))
    glass = render_room(_spec(walls="glass_window"))
    curtain = render_room(_spec(walls="curtains_velvet"))
    # the middle band of rows (walls and talker) takes the walls' colour
    mid = slice(40, 88)

    def mean_rgb(img):
        return img[mid].reshape(-1, 3).mean(axis=0)

    assert mean_rgb(image)[0] > mean_rgb(image)[2] + 20  # brick: red
    assert mean_rgb(glass)[2] > mean_rgb(glass)[0] + 20  # glass: blue
    assert mean_rgb(curtain).sum() < mean_rgb(glass).sum()  # velvet: dark
    # a texture, not a flat fill: the brick wall has mortar lines
    assert image[mid].std() > 10
    assert render_room(brick, size=32).shape == (32, 32, 3)
