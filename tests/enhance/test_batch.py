"""Batches (avgen.pipelines.batch, ``avgen enhance DIR_OR_LIST -o OUTDIR``): one bad file is one
line in the summary and the rest go on, a rerun skips what was written, ``--jobs`` runs files in
processes, the exit status says whether any failed; an output never overwrites an input;
``--chains`` reaches the schedule; a long input goes through segments from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from avgen.audio import SAMPLE_RATE, save_audio
from avgen.cli import main
from avgen.errors import AudioError, ConfigError
from avgen.pipelines.batch import BatchItem, collect_items, run_batch

from .helpers import coloured_noise, mix, save_tiny, speech_from_prior, tiny_model

FAST = ["--em-iters", "2", "--steps", "4", "--burn-in", "2", "--no-progress"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    model = tiny_model("a-vae")
    save_tiny(model, root / "a-vae.pt")
    inputs = root / "in"
    inputs.mkdir()
    for k in range(2):
        speech = speech_from_prior(model, 40, seed=k)
        save_audio(inputs / f"good{k}.wav", mix(speech, coloured_noise(speech.numel()), 0.0))
    sf.write(inputs / "silent.wav", np.zeros(8000, np.float32), SAMPLE_RATE)
    return root


def _batch(folder, source, out, *more):
    model = str(folder / "a-vae.pt")
    return main(["enhance", str(source), "-o", str(out), "--model", model, *FAST, *more])


def test_a_bad_file_fails_alone_and_a_rerun_skips_what_was_written(folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert _batch(folder, folder / "in", out) == 1
    table = capsys.readouterr().out
    assert "silent.wav  failed" in table and "silent (all samples are zero)" in table
    assert "3 file(s): 2 done, 0 skipped (already written), 1 failed" in table
    assert sorted(p.name for p in out.iterdir()) == ["good0.wav", "good1.wav"]
    before = (out / "good0.wav").stat().st_mtime_ns
    assert _batch(folder, folder / "in", out) == 1
    assert "0 done, 2 skipped" in capsys.readouterr().out
    assert (out / "good0.wav").stat().st_mtime_ns == before


def test_a_list_file_and_parallel_jobs(folder, tmp_path, capsys):
    listing = tmp_path / "files.txt"
    listing.write_text(
        f"# two files and a missing one\n{folder / 'in' / 'good0.wav'}\n"
        f"{folder / 'in' / 'good1.wav'}\nmissing.wav\n"
    )
    out = tmp_path / "out"
    assert _batch(folder, listing, out, "--jobs", "2") == 1
    table = capsys.readouterr().out
    assert "2 done" in table and "missing.wav" in table and "1 failed" in table
    single = tmp_path / "single.wav"
    assert _batch(folder, folder / "in" / "good1.wav", single) == 0
    a, _ = sf.read(out / "good1.wav")
    b, _ = sf.read(single)
    assert np.array_equal(a, b)  # a file's result does not depend on the batch or the worker


def test_an_output_never_overwrites_an_input(folder, tmp_path, capsys):
    source = tmp_path / "x.wav"
    source.write_bytes((folder / "in" / "good0.wav").read_bytes())
    assert _batch(folder, source, source) == 2
    assert "may not overwrite an input" in capsys.readouterr().err
    assert source.read_bytes() == (folder / "in" / "good0.wav").read_bytes()
    with pytest.raises(ConfigError, match="overwrite an input"):
        collect_items(folder / "in", folder / "in")
    assert main(["dereverb", str(source), "-o", str(source), "--no-progress"]) == 2


def test_an_unexpected_error_is_an_internal_error_line_and_the_rest_go_on(tmp_path):
    def process(item: BatchItem) -> str:
        if item.name == "b":
            raise RuntimeError("boom\nmore")
        if item.name == "c":
            raise AudioError("c: not audio")
        item.output.write_text("ok")
        return "fine"

    items = [BatchItem(n, tmp_path / n, tmp_path / f"{n}.out") for n in "abcd"]
    summary = run_batch(items, process, progress=False)
    assert [r.status for r in summary.rows] == ["done", "failed", "failed", "done"]
    assert summary.rows[1].message == "internal error: RuntimeError: boom"
    assert summary.rows[2].message == "c: not audio"
    again = run_batch(items, process, progress=False)
    assert [r.status for r in again.rows] == ["skipped", "failed", "failed", "skipped"]


def test_chains_reach_the_schedule_and_long_inputs_go_through_segments(folder, tmp_path, capsys):
    report = tmp_path / "r.json"
    out = tmp_path / "o.wav"
    source = folder / "in" / "good0.wav"
    code = _batch(
        folder, source, out, "--chains", "2", "--report", str(report),
        "--segment", "0.4", "--overlap", "0.1", "--segment-threshold", "0.3",
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "overlapping segments" in printed
    info = json.loads(report.read_text())
    assert info["schedule"]["chains"] == 2 and info["segmentation"]["n_segments"] >= 2
    assert sf.info(out).frames == sf.info(source).frames


def test_a_plot_that_a_long_input_could_not_draw_is_refused_before_any_work(folder, tmp_path):
    from avgen.pipelines.enhance_file import EnhanceRequest, enhance_file
    from avgen.pipelines.segments import SegmentPlan

    out = tmp_path / "o.wav"
    request = EnhanceRequest(
        noisy=folder / "in" / "good0.wav",
        out=out,
        model=str(folder / "a-vae.pt"),
        plot=tmp_path / "fig.png",
        plan=SegmentPlan(segment_s=0.4, overlap_s=0.1, threshold_s=0.3, max_map_s=0.2),
    )
    with pytest.raises(ConfigError, match="--plot draws inputs up to"):
        enhance_file(request)
    assert not out.exists()
