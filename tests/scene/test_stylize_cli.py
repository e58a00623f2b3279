"""``avgen stylize`` as a user meets it: an output of the input's length, the same samples for
the same seed, a figure when asked, and every bad example, picture or option one readable line
with exit status 2 and no file left behind."""

from __future__ import annotations

from importlib.resources import files as package_files
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from avgen.audio import SAMPLE_RATE, load_audio, save_audio
from avgen.cli import main
from avgen.models.stylizer.checkpoints import save_stylizer
from avgen.models.stylizer.config import stylizer_config
from avgen.models.stylizer.model import Stylizer
from avgen.pipelines.scene.stylize import stylize

ROOMS = Path(str(package_files("avgen") / "assets" / "rooms"))
FAST = ["--steps", "2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("stylize")
    torch.manual_seed(0)
    save_stylizer(Stylizer(stylizer_config("tiny")).eval(), root / "tiny.pt")
    clean = load_audio(package_files("avgen") / "assets" / "samples" / "demo" / "clean.wav")
    save_audio(root / "speech.wav", clean[: SAMPLE_RATE + 1234])
    gen = torch.Generator().manual_seed(1)
    save_audio(root / "example.wav", 0.05 * torch.randn(2 * SAMPLE_RATE, generator=gen))
    save_audio(root / "short.wav", 0.05 * torch.randn(SAMPLE_RATE // 2, generator=gen))
    sf.write(root / "silent.wav", np.zeros(2 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    sf.write(root / "stereo.wav", np.zeros((SAMPLE_RATE, 2), np.float32) + 0.1, SAMPLE_RATE)
    (root / "not-a-picture.png").write_text("hello\n")
    (root / "corrupt.pt").write_bytes(b"no checkpoint here" * 20)
    return root


def _stylize(files, out, *args):
    return main(["stylize", str(files / "speech.wav"), "--stylizer", str(files / "tiny.pt"),
                 "-o", str(out), *FAST, *args])  # fmt: skip


def test_stylize_keeps_the_input_length_draws_the_figure_and_says_what_it_did(
    files, tmp_path, capsys
):
    out, fig = tmp_path / "out.wav", tmp_path / "fig.png"
    code = _stylize(files, out, "--example", str(files / "example.wav"),
                    "--image", str(ROOMS / "live-room.png"), "--plot", str(fig))  # fmt: skip
    assert code == 0
    y = load_audio(out)
    assert y.numel() == SAMPLE_RATE + 1234 and torch.isfinite(y).all()
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "the sound of example.wav and the picture live-room.png" in text


def test_the_same_seed_gives_the_same_samples_and_another_seed_others(files, tmp_path):
    paths = [tmp_path / f"{k}.wav" for k in range(3)]
    for path, seed in zip(paths, ("3", "3", "4")):
        assert _stylize(files, path, "--example", str(files / "example.wav"), "--seed", seed) == 0
    a, b, c = (sf.read(p)[0] for p in paths)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_picture_only_and_audio_only_conditions_run(files, tmp_path, capsys):
    assert _stylize(files, tmp_path / "p.wav", "--image", str(ROOMS / "dry-room.png")) == 0
    assert _stylize(files, tmp_path / "a.wav", "--example", str(files / "example.wav")) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--example", "{f}/short.wav"], "at least 1 s"),
        (["--example", "{f}/silent.wav"], "silent"),
        (["--example", "{f}/stereo.wav"], "channel"),
        (["--image", "{f}/not-a-picture.png"], "not a picture"),
        (["--image", "{f}/missing.png"], "no such file"),
        (["--example", "{f}/example.wav", "--stylizer", "{f}/corrupt.pt"], "corrupt.pt"),
        (["--example", "{f}/example.wav", "--steps", "0"], "--steps must be >= 1"),
        (["--example", "{f}/example.wav", "--guidance", "-1"], "guidance"),
        (["--example", "{f}/example.wav", "--plot", "{f}/fig.txt"], "--plot"),
    ],
)
def test_bad_examples_pictures_and_options_are_one_line_exit_2_and_no_output(
    files, tmp_path, capsys, argv, message
):
    out = tmp_path / "o.wav"
    code = _stylize(files, out, *[a.format(f=files) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_the_output_may_not_overwrite_the_example(files, tmp_path, capsys):
    example = str(files / "example.wav")
    assert _stylize(files, Path(example), "--example", example) == 2
    assert "overwrite" in capsys.readouterr().err


def test_the_library_call_needs_a_scene(files):
    from avgen.errors import ConfigError

    with pytest.raises(ConfigError, match="target scene"):
        stylize(torch.randn(SAMPLE_RATE), None, None, model=Stylizer(stylizer_config("tiny")))
