"""``avgen enhance``, ``avgen eval`` and ``avgen demo`` on tiny models: outputs, statements, and
bad input that gives one line, exit status 2 and no output file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from avgen.audio import SAMPLE_RATE, save_audio
from avgen.cli import main
from avgen.data.kit.records import (
    KitInfo,
    MixtureRecord,
    UtteranceRecord,
    write_jsonl,
    write_kit_info,
)
from avgen.data.lips.files import save_lips

from .helpers import coloured_noise, lip_video, mix, save_tiny, speech_from_prior, tiny_model

FAST = ["--em-iters", "2", "--steps", "4", "--burn-in", "2", "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model = tiny_model("a-vae")
    speech = speech_from_prior(model, 50)
    noisy = mix(speech, coloured_noise(speech.numel()), 0.0)
    save_audio(root / "noisy.wav", noisy)
    save_audio(root / "clean.wav", speech)
    save_lips(root / "lips.npy", lip_video(noisy.numel()))
    save_lips(root / "short.npy", lip_video(noisy.numel(), seconds_off=-0.3))
    sf.write(root / "stereo.wav", np.stack([noisy.numpy()] * 2, 1), SAMPLE_RATE)
    sf.write(root / "rate.wav", noisy.numpy(), 22050)
    sf.write(root / "silent.wav", np.zeros(noisy.numel(), np.float32), SAMPLE_RATE)
    with_nan = noisy.numpy().copy()
    with_nan[100] = np.nan
    sf.write(root / "nan.wav", with_nan, SAMPLE_RATE, subtype="FLOAT")
    save_lips(root / "long.npy", lip_video(noisy.numel(), seconds_off=0.5))
    (root / "corrupt.pt").write_bytes(b"not a checkpoint at all" * 10)
    for name in ("a-vae", "min-vae"):
        save_tiny(tiny_model(name), root / f"{name}.pt")
    return root


def _enhance(files, *args):
    return main(["enhance", str(files / "noisy.wav"), *FAST, *args])


def test_enhance_writes_wav_figure_and_report_and_says_what_it_did(files, tmp_path, capsys):
    out, fig, rep = tmp_path / "out.wav", tmp_path / "fig.png", tmp_path / "r.json"
    code = _enhance(
        files,
        "--model",
        str(files / "min-vae.pt"),
        "--video",
        str(files / "lips.npy"),
        "-o",
        str(out),
        "--plot",
        str(fig),
        "--report",
        str(rep),
        "--reference",
        str(files / "clean.wav"),
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "min-vae speech prior" in text and "2 EM iterations" in text
    assert "visual encoder on the lips" in text and "real-time factor" in text
    data, rate = sf.read(out)
    assert rate == SAMPLE_RATE and data.shape == sf.read(files / "noisy.wav")[0].shape
    assert fig.stat().st_size > 10_000
    report = json.loads(rep.read_text())
    assert report["model"] == "min-vae" and report["scheme"] == "mcem-mh"
    assert len(report["history"]["objective"]) == 2
    assert set(report["metrics"]["enhanced"]) == {"pesq_wb", "estoi", "si_sdr"}


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("stereo", ["--model", "{a}", "NOISY=stereo.wav"], "channels"),
        ("rate", ["--model", "{a}", "NOISY=rate.wav"], "22050 Hz"),
        ("silence", ["--model", "{a}", "NOISY=silent.wav"], "silent"),
        ("other model", ["--model", "min-vae", "--checkpoint", "{a}"], "a-vae"),
        ("missing video", ["--model", "{m}"], "lips"),
        ("short video", ["--model", "{m}", "--video", "{short}"], "shorter"),
        ("long video", ["--model", "{m}", "--video", "{long}"], "longer"),
        ("nan", ["--model", "{a}", "NOISY=nan.wav"], "NaN"),
        ("corrupt checkpoint", ["--model", "{corrupt}"], "checkpoint"),
        ("missing file", ["--model", "{m}", "--video", "{nothing}"], "no such file"),
        ("bad output", ["--model", "{a}", "OUT=out.mp3"], ".wav"),
    ],
)
def test_bad_input_one_line_exit_2_no_output(files, tmp_path, capsys, case, args, message):
    names = {
        "a": files / "a-vae.pt",
        "m": files / "min-vae.pt",
        "short": files / "short.npy",
        "nothing": files / "nothing.npy",
        "long": files / "long.npy",
        "corrupt": files / "corrupt.pt",
    }
    noisy, out = files / "noisy.wav", tmp_path / "out.wav"
    argv = []
    for a in args:
        if a.startswith("NOISY="):
            noisy = files / a[6:]
        elif a.startswith("OUT="):
            out = tmp_path / a[4:]
        else:
            argv.append(a.format(**names))
    code = main(
        ["enhance", str(noisy), *FAST, *argv, "-o", str(out), "--report", str(tmp_path / "r.json")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2, case
    assert len(err.splitlines()) == 1 and err.startswith("avgen: error:") and message in err
    assert list(tmp_path.iterdir()) == []


def test_diffusion_prior_enhances_with_the_bundled_prior(files, tmp_path, capsys):
    out, rep = tmp_path / "o.wav", tmp_path / "r.json"
    code = main(
        [
            "enhance",
            str(files / "noisy.wav"),
            "--model",
            "diffusion-prior",
            "--steps",
            "3",
            "--no-progress",
            "-o",
            str(out),
            "--report",
            str(rep),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "diffusion speech prior" in text and "3 reverse steps" in text
    data, rate = sf.read(out)
    assert rate == SAMPLE_RATE and len(data) == sf.info(files / "noisy.wav").frames
    report = json.loads(rep.read_text())
    assert report["model"] == "diffusion-prior" and report["history"]["step"] == [0, 1, 2]
    assert len(report["history"]["objective"]) == 3


def _tiny_kit(root, files):
    """Two test utterances x one unseen noise type x two SNRs, in the kit's format."""
    write_kit_info(root, KitInfo(size="tiny", seed=0, avgen_version="test"))
    (root / "speech").mkdir(parents=True)
    (root / "lips").mkdir()
    (root / "mixtures" / "test").mkdir(parents=True)
    model = tiny_model("a-vae")
    utterances, mixtures = [], []
    for i in range(2):
        speech = speech_from_prior(model, 40, seed=10 + i)
        uid = f"u{i}"
        save_audio(root / f"speech/{uid}.wav", speech)
        save_lips(root / f"lips/{uid}.npy", lip_video(speech.numel(), seed=i))
        utterances.append(
            UtteranceRecord(
                uid,
                "spk",
                "text",
                "en",
                "test",
                "CC0",
                speech.numel() / SAMPLE_RATE,
                "test",
                True,
                "synthesizer",
                f"speech/{uid}.wav",
                f"phones/{uid}.json",
                f"lips/{uid}.npy",
            )
        )
        for snr in (-5.0, 0.0):
            mid = f"{uid}_hum_{snr:+g}dB"
            save_audio(
                root / f"mixtures/test/{mid}.wav",
                mix(speech, coloured_noise(speech.numel(), seed=i), snr),
            )
            mixtures.append(
                MixtureRecord(
                    mid,
                    "test",
                    uid,
                    "hum-01",
                    "hum",
                    "unseen",
                    snr,
                    0,
                    f"mixtures/test/{mid}.wav",
                    f"speech/{uid}.wav",
                    f"lips/{uid}.npy",
                )
            )
    write_jsonl(root / "utterances.jsonl", utterances)
    write_jsonl(root / "mixtures" / "test.jsonl", mixtures)
    return root


def test_eval_writes_markdown_csv_json_with_baseline_rows(files, tmp_path, capsys):
    kit = _tiny_kit(tmp_path / "kit", files)
    out = tmp_path / "eval"
    code = main(
        [
            "eval",
            "--data",
            str(kit),
            "--models",
            f"a-vae={files / 'a-vae.pt'},min={files / 'min-vae.pt'}",
            "--snr",
            "-5,0",
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "| hum | -5 | noisy | 2 |" in text and "wiener" in text and "| min |" in text
    data = json.loads((out / "eval.json").read_text())
    from avgen.baselines.references import available_references

    expected = {"noisy", "wiener", "a-vae", "min", *available_references()}
    assert {r["method"] for r in data["rows"]} == expected
    assert len(data["items"]) == 2 * 2 * len(expected)
    assert "2 EM iterations" in data["settings"]["schedule"]
    # what each method ran, as its own run reported it
    per_method = data["settings"]["schedule_per_method"]
    assert set(per_method) == {"a-vae", "min"} and all("2 EM" in t for t in per_method.values())
    header = (out / "eval.csv").read_text().splitlines()[0]
    assert header.startswith("method,noise_type,snr_db,n,pesq_wb_mean,pesq_wb_ci95")
    # --limit keeps a stratified subset: one mixture per (noise type, SNR)
    assert (
        main(
            [
                "eval",
                "--data",
                str(kit),
                "--models",
                f"a-vae={files / 'a-vae.pt'}",
                "--limit",
                "1",
                "--references",
                "none",
                "--out",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    assert len(json.loads((out / "eval.json").read_text())["items"]) == 2 * 3


def test_eval_refuses_a_folder_that_is_not_a_kit(files, tmp_path, capsys):
    code = main(["eval", "--data", str(tmp_path), "--models", str(files / "a-vae.pt"), *FAST])
    assert code == 2 and "not a data kit" in capsys.readouterr().err


def test_demo_writes_wav_figure_metrics(files, tmp_path, capsys):
    clip = tmp_path / "clip"
    clip.mkdir()
    for name in ("noisy.wav", "clean.wav", "lips.npy"):
        (clip / name).write_bytes((files / name).read_bytes())
    (clip / "clip.json").write_text(
        json.dumps({"mixture": {"id": "test clip", "snr_db": 0.0}, "video_fps": 25.0})
    )
    out = tmp_path / "demo"
    code = main(
        [
            "demo",
            "--out",
            str(out),
            "--model",
            str(files / "min-vae.pt"),
            "--clip",
            str(clip),
            "--em-iters",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "a schedule of your own (NMF rank 4, 2 EM iterations" in text
    assert "| min-vae" in text and "| wiener" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {"noisy", "wiener", "min-vae"}
    assert (out / "enhanced.wav").stat().st_size > 1000
    assert (out / "figure.png").stat().st_size > 10_000


def test_bundled_demo_clip_is_complete_and_small():
    from avgen.samples import bundled_clip_dir, clip_summary, read_clip

    folder = bundled_clip_dir()
    if not (folder / "clip.json").exists():
        pytest.skip("no bundled demo clip in this checkout (scripts/make_demo_clip.py)")
    noisy, clean, lips, fps, provenance = read_clip(folder)
    assert sum(f.stat().st_size for f in folder.iterdir()) < 1_000_000
    assert 3.0 <= noisy.numel() / SAMPLE_RATE <= 4.0 and noisy.shape == clean.shape
    clip = clip_summary(provenance)
    assert clip["noise_split"] == "unseen" and clip["snr_db"] == 0.0
    assert abs(lips.shape[0] / fps - noisy.numel() / SAMPLE_RATE) < 0.1


def test_without_model_or_video_the_audio_only_default_enhances_a_bundled_clip(tmp_path, capsys):
    from importlib.resources import files as package_files

    from avgen.audio import load_audio
    from avgen.metrics import si_sdr

    clip = package_files("avgen") / "assets" / "samples" / "city-0"
    out = tmp_path / "out.wav"
    code = main(["enhance", str(clip / "noisy.wav"), "-o", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "no --model given: a-vae, the audio-only default" in printed
    clean = load_audio(clip / "clean.wav")
    noisy = load_audio(clip / "noisy.wav")
    enhanced = load_audio(out)
    assert enhanced.shape == noisy.shape
    assert si_sdr(clean, enhanced) > si_sdr(clean, noisy) + 1.0


def test_with_video_and_no_model_the_audio_visual_default_runs(files, tmp_path, capsys):
    code = main(
        ["enhance", str(files / "noisy.wav"), *FAST, "--video", str(files / "lips.npy"),
         "-o", str(tmp_path / "o.wav")]
    )  # fmt: skip
    assert code == 0
    assert "no --model given: min-vae, the audio-visual default" in capsys.readouterr().out


def test_a_checkpoint_without_a_model_name_is_refused(files, tmp_path, capsys):
    code = _enhance(files, "--checkpoint", str(files / "a-vae.pt"), "-o", str(tmp_path / "o.wav"))
    assert code == 2
    assert "--checkpoint needs --model NAME" in capsys.readouterr().err
