"""``avgen match``, ``avgen dereverb --image`` and ``avgen train --model mvsd``, as a user meets
them: outputs of the promised length, the same numbers for the same seed, every bad picture or
audio one readable line with exit status 2 and no file left behind."""

from __future__ import annotations

from importlib.resources import files as package_files
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from avgen.audio import SAMPLE_RATE, load_audio, save_audio
from avgen.cli import main
from avgen.models.mvsd.checkpoints import load_mvsd, save_mvsd
from avgen.models.mvsd.config import mvsd_config
from avgen.models.mvsd.model import MVSD

ROOMS = Path(str(package_files("avgen") / "assets" / "rooms"))
FAST = ["--steps", "2", "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("scene")
    torch.manual_seed(0)
    save_mvsd(MVSD(mvsd_config("tiny")).eval(), root / "tiny.pt")
    clean = load_audio(package_files("avgen") / "assets" / "samples" / "demo" / "clean.wav")
    dry = clean[:SAMPLE_RATE]
    save_audio(root / "dry.wav", dry)
    reverberant = torch.nn.functional.pad(dry, (0, 4000))
    save_audio(root / "rev.wav", reverberant + 0.01 * torch.randn(reverberant.shape))
    sf.write(root / "stereo.wav", np.stack([dry.numpy()] * 2, 1), SAMPLE_RATE)
    nan = dry.numpy().copy()
    nan[10] = np.nan
    sf.write(root / "nan.wav", nan, SAMPLE_RATE, subtype="FLOAT")
    (root / "not-a-picture.png").write_text("hello\n")
    picture = np.asarray(Image.open(ROOMS / "live-room.png"))
    Image.fromarray(picture[..., 0]).save(root / "grey.png")
    Image.fromarray(np.dstack([picture, np.full(picture.shape[:2], 200, np.uint8)])).save(
        root / "rgba.png"
    )
    Image.fromarray(picture).resize((300, 200)).save(root / "wide.jpg")
    (root / "corrupt.pt").write_bytes(b"no checkpoint here" * 20)
    return root


def _match(files, out, *args):
    return main(["match", str(files / "dry.wav"), "--mvsd", str(files / "tiny.pt"),
                 "-o", str(out), *FAST, *args])  # fmt: skip


def test_match_writes_the_dry_speech_plus_the_tail_and_says_what_it_did(files, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert _match(files, out, "--image", str(ROOMS / "live-room.png")) == 0
    y = load_audio(out)
    assert y.numel() == SAMPLE_RATE + SAMPLE_RATE  # 1 s of speech + the model's 1 s tail
    assert torch.isfinite(y).all()
    assert "matched to the room of live-room.png" in capsys.readouterr().out


def test_match_gives_the_same_samples_for_the_same_seed(files, tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    for out in (a, b):
        assert _match(files, out, "--image", str(ROOMS / "dry-room.png"), "--seed", "3") == 0
    np.testing.assert_array_equal(sf.read(a)[0], sf.read(b)[0])


@pytest.mark.parametrize(
    ("picture", "note"),
    [("grey.png", "grey"), ("rgba.png", "alpha"), ("wide.jpg", "resized from 200x200 to 128x128")],
)
def test_unusual_pictures_are_converted_and_the_change_is_said(
    files, tmp_path, capsys, picture, note
):
    assert _match(files, tmp_path / "o.wav", "--image", str(files / picture)) == 0
    assert note in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--image", "{f}/not-a-picture.png"], "not a picture"),
        (["--image", "{f}/missing.png"], "no such file"),
        (["--image", "{f}/grey.png", "--mvsd", "{f}/corrupt.pt"], "corrupt.pt"),
        (["--image", "{f}/grey.png", "--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_bad_pictures_and_options_are_one_line_exit_2_and_no_output(
    files, tmp_path, capsys, argv, message
):
    out = tmp_path / "o.wav"
    code = _match(files, out, *[a.format(f=files) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(("audio", "message"), [("stereo.wav", "channel"), ("nan.wav", "NaN")])
def test_bad_audio_is_refused_before_any_work(files, tmp_path, capsys, audio, message):
    out = tmp_path / "o.wav"
    code = main(["match", str(files / audio), "--image", str(ROOMS / "dry-room.png"),
                 "--mvsd", str(files / "tiny.pt"), "-o", str(out), *FAST])  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_match_needs_a_picture(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["match", str(files / "dry.wav"), "-o", str(tmp_path / "o.wav")])
    assert exc.value.code == 2
    assert "--image" in capsys.readouterr().err


def test_the_output_may_not_overwrite_the_picture_or_the_input(files, tmp_path, capsys):
    dry = str(files / "dry.wav")
    code = main(["match", dry, "--image", str(ROOMS / "dry-room.png"),
                 "--mvsd", str(files / "tiny.pt"), "-o", dry, *FAST])  # fmt: skip
    assert code == 2
    assert "overwrite" in capsys.readouterr().err


def test_dereverb_with_a_picture_keeps_the_input_length(files, tmp_path, capsys):
    out = tmp_path / "dry.wav"
    code = main(["dereverb", str(files / "rev.wav"), "--image", str(ROOMS / "live-room.png"),
                 "--mvsd", str(files / "tiny.pt"), "-o", str(out), *FAST])  # fmt: skip
    assert code == 0
    assert load_audio(out).numel() == load_audio(files / "rev.wav").numel()
    assert "dereverberated with the room of live-room.png" in capsys.readouterr().out


def test_dereverb_with_a_picture_refuses_rir_out(files, tmp_path, capsys):
    code = main(["dereverb", str(files / "rev.wav"), "--image", str(ROOMS / "live-room.png"),
                 "--mvsd", str(files / "tiny.pt"), "-o", str(tmp_path / "o.wav"),
                 "--rir-out", str(tmp_path / "r.wav"), *FAST])  # fmt: skip
    assert code == 2
    assert "--rir-out" in capsys.readouterr().err


def test_train_mvsd_on_a_room_kit_writes_a_loadable_checkpoint_and_a_card(
    tiny_room_kit, tmp_path, capsys
):
    out = tmp_path / "m.pt"
    code = main(["train", "--model", "mvsd", "--data", str(tiny_room_kit), "--size", "tiny",
                 "--steps", "2", "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    model = load_mvsd(out)
    assert model.config.use_picture
    card = out.with_suffix(".md").read_text()
    assert "paired" in card and "unpaired data used" in card
    assert "2 steps" in card


def test_train_mvsd_refuses_a_speech_kit(tiny_kit, tmp_path, capsys):
    code = main(["train", "--model", "mvsd", "--data", str(tiny_kit), "--size", "tiny",
                 "--steps", "2", "--out", str(tmp_path / "m.pt"), "--no-progress"])  # fmt: skip
    assert code == 2
    assert "room kit" in capsys.readouterr().err
