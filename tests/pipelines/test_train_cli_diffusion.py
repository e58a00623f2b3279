"""``avgen train --model diffusion-prior`` trains from a kit and writes a checkpoint and card;
sizes of the other family are refused with one line."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from avgen.checkpoint import load_checkpoint
from avgen.cli import main
from avgen.data.kit.records import UtteranceRecord, write_jsonl


def _write_kit(root: Path) -> None:
    g = torch.Generator().manual_seed(0)
    records = []
    for split, n in (("train", 3), ("val", 1)):
        for i in range(n):
            uid = f"{split}{i}"
            wav = 0.05 * torch.randn(12_000, generator=g)
            (root / "speech").mkdir(parents=True, exist_ok=True)
            sf.write(root / "speech" / f"{uid}.wav", wav.numpy(), 16_000, subtype="FLOAT")
            records.append(
                UtteranceRecord(
                    id=uid,
                    speaker=f"s{i}",
                    text="",
                    language="en",
                    source="test",
                    licence="CC0",
                    duration=12_000 / 16_000,
                    split=split,
                    real=False,
                    timing="synthesizer",
                    wav=f"speech/{uid}.wav",
                    phones="",
                    lips="",
                )
            )
    write_jsonl(root / "utterances.jsonl", records)


def test_train_diffusion_prior_from_the_command_line(tmp_path, capsys):
    _write_kit(tmp_path / "kit")
    out = tmp_path / "prior.pt"
    code = main(
        [
            "train",
            "--model",
            "diffusion-prior",
            "--data",
            str(tmp_path / "kit"),
            "--size",
            "tiny",
            "--steps",
            "2",
            "--out",
            str(out),
            "--no-progress",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    assert "diffusion-prior (tiny) for 2 steps" in capsys.readouterr().out
    assert load_checkpoint(out, expected_model="diffusion-prior").config["size"] == "tiny"
    assert out.with_suffix(".md").is_file()


def test_sizes_of_the_other_family_are_refused(tmp_path, capsys):
    _write_kit(tmp_path / "kit")
    for args in (
        ["--model", "diffusion-prior", "--size", "paper"],
        ["--model", "a-vae", "--size", "tiny"],
        ["--model", "a-vae", "--steps", "3"],
    ):
        code = main(
            ["train", *args, "--data", str(tmp_path / "kit"), "--out", str(tmp_path / "x.pt")]
        )
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("avgen: error:")
        assert not (tmp_path / "x.pt").exists()
