"""Pictures of scenes: every kind of bad or unusual picture gets a clear error or a said change."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from avgen.errors import ImageError
from avgen.images import load_picture, save_picture


def _rgb(h: int = 128, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_a_saved_picture_reads_back_unchanged_and_without_notes(tmp_path):
    pixels = _rgb()
    save_picture(tmp_path / "room.png", pixels)
    loaded = load_picture(tmp_path / "room.png")
    np.testing.assert_array_equal(loaded.pixels, pixels)
    assert loaded.notes == ()


def test_a_missing_file_is_an_image_error_naming_it(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_picture(tmp_path / "nowhere.png")


def test_a_file_that_is_not_a_picture_is_refused(tmp_path):
    (tmp_path / "room.png").write_text("this is not a picture\n")
    with pytest.raises(ImageError, match="not a picture"):
        load_picture(tmp_path / "room.png")


def test_a_truncated_png_is_refused(tmp_path):
    save_picture(tmp_path / "room.png", _rgb())
    data = (tmp_path / "room.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError):
        load_picture(tmp_path / "cut.png")


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_picture(tmp_path)


def test_a_grey_picture_becomes_three_equal_channels_and_says_so(tmp_path):
    Image.fromarray(np.full((128, 128), 90, dtype=np.uint8)).save(tmp_path / "grey.png")
    loaded = load_picture(tmp_path / "grey.png")
    assert loaded.pixels.shape == (128, 128, 3)
    assert (loaded.pixels == 90).all()
    assert any("grey" in n for n in loaded.notes)


def test_an_alpha_channel_is_composited_over_white(tmp_path):
    rgba = np.zeros((128, 128, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    loaded = load_picture(tmp_path / "clear.png")
    assert (loaded.pixels == 255).all()
    assert any("alpha" in n for n in loaded.notes)


def test_another_size_is_resized_and_a_wide_picture_cropped_to_its_centre(tmp_path):
    Image.fromarray(_rgb(300, 500)).save(tmp_path / "wide.jpg", quality=90)
    loaded = load_picture(tmp_path / "wide.jpg")
    assert loaded.pixels.shape == (128, 128, 3) and loaded.pixels.dtype == np.uint8
    assert any("cropped" in n for n in loaded.notes)
    assert any("resized from 300x300 to 128x128" in n for n in loaded.notes)


def test_a_tiny_picture_is_refused(tmp_path):
    Image.fromarray(_rgb(4, 4)).save(tmp_path / "dot.png")
    with pytest.raises(ImageError, match="at least 8x8"):
        load_picture(tmp_path / "dot.png")


def test_save_picture_refuses_a_wrong_array_and_leaves_no_file(tmp_path):
    with pytest.raises(ImageError):
        save_picture(tmp_path / "x.png", np.zeros((4, 4), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []
