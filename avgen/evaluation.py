"""Evaluation of enhancement on a data kit's test mixtures: metrics per item, tables with 95 % CIs.

For every selected mixture (``DIR/mixtures/test.jsonl``, e.g. the noise types never seen in
training, at chosen SNRs) the reference is the clean utterance times the mixture's gain, and
three metrics are computed (:func:`avgen.metrics.evaluate`): PESQ-WB, ESTOI, SI-SDR (dB). Rows:

* ``noisy`` -- the input itself, for context;
* ``wiener`` -- a classical unsupervised baseline: Wiener filter with minimum-statistics noise
  tracking and decision-directed SNR (:func:`avgen.baselines.wiener.wiener_enhance`);
* with ``references``, one row per reference enhancer from other projects (RNNoise,
  DeepFilterNet3, noisereduce's spectral gating; :mod:`avgen.baselines.references`, extra
  ``avgen[references]``), run on the same mixtures with their delay compensated;
* one row per VAE prior, enhanced by :func:`avgen.pipelines.vae_nmf.pipeline.enhance`.

Each table cell is a mean with its 95 % confidence interval, ``mean +- t_{0.975, n-1} s / sqrt(n)``
(Student's t over the items of the cell; items are different utterances, so independent up to
shared noise clips). Rows are grouped by method x noise type x SNR, plus ``all`` pooling the noise
types at each SNR.
(A little over 300 lines of code: selecting mixtures, scoring them and tabulating the intervals
are one procedure whose steps are read together.)
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avgen.errors import ConfigError, DataError

METRIC_NAMES = ("pesq_wb", "estoi", "si_sdr")
METRIC_LABELS = {"pesq_wb": "PESQ-WB", "estoi": "ESTOI", "si_sdr": "SI-SDR (dB)"}
BASELINES = ("noisy", "wiener")


@dataclass(frozen=True)
class ItemScore:
    """The metrics of one method on one mixture."""

    method: str
    mixture_id: str
    utterance_id: str
    noise_type: str
    snr_db: float
    pesq_wb: float
    estoi: float
    si_sdr: float
    seconds: float = 0.0
    duration_s: float = 0.0


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """``(mean, half-width)`` of the Student-t confidence interval (half-width ``nan`` if n < 2)."""
    from scipy.stats import t

    arr = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    if arr.size == 1:
        return float(arr[0]), math.nan
    half = float(t.ppf(0.5 + level / 2, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))
    return float(arr.mean()), half


def summarise(scores: Iterable[ItemScore], *, pooled_label: str = "all") -> list[dict[str, Any]]:
    """Rows ``method x noise type x SNR`` (and ``pooled_label`` over noise types) with
    ``n``, ``<metric>_mean``, ``<metric>_ci95`` for each metric, methods in first-seen order."""
    scores = list(scores)
    methods = list(dict.fromkeys(s.method for s in scores))
    types = sorted({s.noise_type for s in scores})
    snrs = sorted({s.snr_db for s in scores})
    groups: dict[tuple[str, str, float], list[ItemScore]] = defaultdict(list)
    for s in scores:
        groups[(s.method, s.noise_type, s.snr_db)].append(s)
        if len(types) > 1:
            groups[(s.method, pooled_label, s.snr_db)].append(s)
    order = types + ([pooled_label] if len(types) > 1 else [])
    rows = []
    for noise_type in order:
        for snr in snrs:
            for method in methods:
                cell = groups.get((method, noise_type, snr))
                if not cell:
                    continue
                row: dict[str, Any] = {
                    "method": method,
                    "noise_type": noise_type,
                    "snr_db": snr,
                    "n": len(cell),
                }
                for name in METRIC_NAMES:
                    mean, half = mean_ci([getattr(s, name) for s in cell])
                    row[f"{name}_mean"], row[f"{name}_ci95"] = mean, half
                rows.append(row)
    return rows


def _cell(mean: float, half: float, digits: int) -> str:
    if not math.isfinite(mean):
        return "-"
    text = f"{mean:.{digits}f}"
    return text if not math.isfinite(half) else f"{text} ± {half:.{digits}f}"


def format_markdown(rows: Sequence[Mapping[str, Any]], *, header: str = "") -> str:
    """A Markdown table (mean ± 95 % CI), the best model mean per column and cell in bold."""
    digits = {"pesq_wb": 2, "estoi": 3, "si_sdr": 2}
    best: dict[tuple[str, float, str], float] = {}
    for r in rows:
        for name in METRIC_NAMES:
            key = (r["noise_type"], r["snr_db"], name)
            value = r[f"{name}_mean"]
            if math.isfinite(value):
                best[key] = max(best.get(key, -math.inf), value)
    lines = [header, ""] if header else []
    lines += [
        "| noise | SNR (dB) | method | n | "
        + " | ".join(METRIC_LABELS[m] for m in METRIC_NAMES)
        + " |",
        "|---|---:|---|---:|" + "---:|" * len(METRIC_NAMES),
    ]
    for r in rows:
        cells = []
        for name in METRIC_NAMES:
            text = _cell(r[f"{name}_mean"], r[f"{name}_ci95"], digits[name])
            if r[f"{name}_mean"] == best.get((r["noise_type"], r["snr_db"], name)):
                text = f"**{text}**"
            cells.append(text)
        lines.append(
            f"| {r['noise_type']} | {r['snr_db']:g} | {r['method']} | {r['n']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def format_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    columns = ["method", "noise_type", "snr_db", "n"] + [
        f"{m}_{k}" for m in METRIC_NAMES for k in ("mean", "ci95")
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r[c] for c in columns})
    return buffer.getvalue()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def evaluation_json(
    rows: Sequence[Mapping[str, Any]], scores: Sequence[ItemScore], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything needed to audit the table: settings, summary rows, every item's scores."""
    return _json_safe(
        {
            "settings": dict(settings),
            "rows": [dict(r) for r in rows],
            "items": [asdict(s) for s in scores],
        }
    )


def write_tables(
    out_dir: str | Path,
    rows: Sequence[Mapping[str, Any]],
    scores: Sequence[ItemScore],
    settings: Mapping[str, Any],
    *,
    header: str = "",
    stem: str = "eval",
) -> list[Path]:
    """``stem.md``, ``stem.csv``, ``stem.json`` in ``out_dir`` (atomic writes)."""
    from avgen.files import write_json_atomic, write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.md", out / f"{stem}.csv", out / f"{stem}.json"]
    write_text_atomic(paths[0], format_markdown(rows, header=header))
    write_text_atomic(paths[1], format_csv(rows))
    write_json_atomic(paths[2], evaluation_json(rows, scores, settings))
    return paths


# ----------------------------------------------------------------------------------------------
# Running an evaluation on a kit
# ----------------------------------------------------------------------------------------------


def select_mixtures(
    root: str | Path,
    *,
    noise: str = "unseen",
    snrs: Sequence[float] | None = None,
    noise_types: Sequence[str] | None = None,
    limit: int | None = None,
    split: str = "test",
) -> list:
    """Test mixtures of ``root`` with ``noise`` noise types at ``snrs``; with ``limit``, the
    first ``limit`` of each (noise type, SNR) cell in manifest order (a stratified subset)."""
    from avgen.data.kit.records import NOISE_SPLITS, MixtureRecord, read_jsonl, read_kit_info

    root = Path(root)
    read_kit_info(root)
    if noise not in (*NOISE_SPLITS, "all"):
        raise ConfigError(f"--noise must be seen, unseen or all, got {noise!r}")
    mixtures = read_jsonl(root / "mixtures" / f"{split}.jsonl", MixtureRecord)
    chosen = [
        m
        for m in mixtures
        if (noise == "all" or m.noise_split == noise)
        and (snrs is None or any(math.isclose(m.snr_db, s, abs_tol=1e-6) for s in snrs))
        and (noise_types is None or m.noise_type in noise_types)
    ]
    if not chosen:
        have = sorted({(m.noise_split, m.noise_type, m.snr_db) for m in mixtures})
        raise DataError(
            f"{root}: no {split} mixtures with {noise} noise at SNRs {snrs} "
            f"(types {noise_types}); the kit has {have[:12]}..."
        )
    if limit is not None:
        if limit < 1:
            raise ConfigError("--limit must be >= 1")
        counts: dict[tuple[str, float], int] = defaultdict(int)
        kept = []
        for m in chosen:
            key = (m.noise_type, m.snr_db)
            if counts[key] < limit:
                counts[key] += 1
                kept.append(m)
        chosen = kept
    return chosen


def load_mixture(root: Path, mixture, fps: float):
    """``(noisy, reference, lips)`` of one mixture record (reference = gain x clean)."""
    from avgen.audio import load_audio
    from avgen.video_align import read_video

    noisy = load_audio(root / mixture.wav)
    reference = load_audio(root / mixture.clean) * mixture.gain
    if noisy.numel() != reference.numel():
        raise DataError(
            f"{root / mixture.wav}: {noisy.numel()} samples but its clean speech "
            f"has {reference.numel()}; rebuild the mixtures"
        )
    lips, _ = read_video(root / mixture.lips, fps)
    return noisy, reference, lips


def evaluate_kit(
    root: str | Path,
    methods: Mapping[str, Any],
    *,
    noise: str = "unseen",
    snrs: Sequence[float] | None = None,
    noise_types: Sequence[str] | None = None,
    limit: int | None = None,
    scheme: str = "mcem-mh",
    schedule=None,
    seed: int = 0,
    device: str = "cpu",
    baselines: Sequence[str] = BASELINES,
    references: Sequence[str] = (),
    progress: bool | None = None,
) -> tuple[list[ItemScore], dict[str, Any]]:
    """Score ``baselines``, the reference enhancers ``references`` (names of
    :data:`avgen.baselines.references.REFERENCES`; a missing package raises MissingToolError,
    so filter with :func:`~avgen.baselines.references.missing_reason` first to skip instead)
    and every model of ``methods`` (label -> SpeechVAE) on the kit.

    Item ``i`` is enhanced with seed ``derive_seed(seed, mixture id)`` by every model, so the
    models see the same noise start and chains differ only by the prior. Returns the scores and
    the settings (declared in the outputs).
    """
    from avgen.baselines.references import get_reference, reference_enhance
    from avgen.baselines.wiener import wiener_enhance
    from avgen.data.kit.records import read_kit_info
    from avgen.metrics import evaluate
    from avgen.pipelines.vae_nmf.pipeline import enhance
    from avgen.pipelines.vae_nmf.schemes import EMSchedule, canonical_scheme
    from avgen.progress import progress_bar
    from avgen.seeding import derive_seed

    root = Path(root)
    info = read_kit_info(root)
    scheme = canonical_scheme(scheme)
    schedule = schedule or EMSchedule()
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ConfigError(f"unknown baseline(s) {unknown}; choose from {BASELINES}")
    references = list(dict.fromkeys(references))
    for name in references:
        get_reference(name).load()  # unknown name or missing package: fail before any work
    clash = [label for label in methods if label in BASELINES or label in references]
    if clash:
        raise ConfigError(f"model label {clash[0]!r} clashes with a baseline row")
    mixtures = select_mixtures(root, noise=noise, snrs=snrs, noise_types=noise_types, limit=limit)
    scores: list[ItemScore] = []
    seconds: dict[str, float] = defaultdict(float)
    audio_seconds = 0.0
    ran: dict[str, str] = {}  # label -> the schedule each method ran, as its run said
    bar = progress_bar(
        len(mixtures) * (len(methods) + len(baselines) + len(references)), "eval", progress
    )
    try:
        for mixture in mixtures:
            noisy, reference, lips = load_mixture(root, mixture, info.video_fps)
            duration = noisy.numel() / info.sample_rate
            audio_seconds += duration

            def score(
                method: str,
                estimate,
                took: float,
                mixture=mixture,
                reference=reference,
                duration=duration,
            ) -> None:
                m = evaluate(reference, estimate)
                scores.append(
                    ItemScore(
                        method,
                        mixture.id,
                        mixture.utterance_id,
                        mixture.noise_type,
                        mixture.snr_db,
                        m["pesq_wb"],
                        m["estoi"],
                        m["si_sdr"],
                        took,
                        duration,
                    )
                )
                seconds[method] += took
                bar.update()

            if "noisy" in baselines:
                score("noisy", noisy, 0.0)
            if "wiener" in baselines:
                started = time.perf_counter()
                estimate = wiener_enhance(noisy)
                score("wiener", estimate, time.perf_counter() - started)
            for name in references:
                started = time.perf_counter()
                estimate = reference_enhance(name, noisy, info.sample_rate)
                score(name, estimate, time.perf_counter() - started)
            item_seed = derive_seed(seed, "eval", mixture.id)
            for label, model in methods.items():
                result = enhance(
                    noisy,
                    model,
                    lips=lips,
                    fps=info.video_fps,
                    scheme=scheme,
                    schedule=schedule,
                    seed=item_seed,
                    device=device,
                )
                score(label, result.estimate, result.info["seconds"])
                ran[label] = result.info["schedule_text"]  # a temporal prior's own numbers
    finally:
        bar.close()
    settings = {
        "kit": str(root),
        "kit_size": info.size,
        "noise": noise,
        "snrs": None if snrs is None else list(snrs),
        "noise_types": sorted({m.noise_type for m in mixtures}),
        "limit_per_cell": limit,
        "n_mixtures": len(mixtures),
        "audio_seconds": audio_seconds,
        "scheme": scheme,
        "schedule": schedule.describe(scheme),
        "schedule_per_method": ran,
        "seed": seed,
        "device": device,
        "methods": list(baselines) + references + list(methods),
        "references": {name: get_reference(name).description for name in references},
        "real_time_factor": {k: v / audio_seconds for k, v in seconds.items() if audio_seconds > 0},
        "metrics": "PESQ-WB (pesq, wb), ESTOI (pystoi extended), SI-SDR (dB); mean ± 95% CI "
        "(Student t over items)",
    }
    return scores, settings
