"""Evaluation tables: Student-t confidence intervals, grouping, formats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avgen.evaluation import ItemScore, format_csv, format_markdown, mean_ci, summarise


def test_mean_ci_is_the_student_t_interval():
    mean, half = mean_ci([1, 2, 3, 4, 5])
    assert mean == 3.0
    assert half == pytest.approx(2.7764451 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert math.isnan(mean_ci([4.0])[1]) and mean_ci([4.0])[0] == 4.0
    assert math.isnan(mean_ci([])[0])


def test_mean_ci_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    trials = 2000
    covered = 0
    for _ in range(trials):
        mean, half = mean_ci(rng.normal(1.0, 2.0, 8))
        covered += abs(mean - 1.0) <= half
    # binomial(2000, 0.95): sd 0.0049; 4.5 sd either way
    assert abs(covered / trials - 0.95) < 4.5 * math.sqrt(0.95 * 0.05 / trials)


def _score(method, mixture, noise, snr, value):
    return ItemScore(method, mixture, mixture, noise, snr, value, value / 10, value)


def test_rows_per_method_noise_type_and_snr_plus_pooled_rows():
    scores = [
        _score(m, f"{n}{i}", n, s, v + i)
        for m, v in (("noisy", 0.0), ("model", 1.0))
        for n in ("babble", "wind")
        for s in (-5.0, 0.0)
        for i in range(3)
    ]
    rows = summarise(scores)
    assert len(rows) == 2 * 2 * 3  # (babble, wind, all) x SNR x method
    pooled = [r for r in rows if r["noise_type"] == "all" and r["method"] == "model"]
    assert [r["n"] for r in pooled] == [6, 6] and pooled[0]["si_sdr_mean"] == pytest.approx(2.0)
    table = format_markdown(rows)
    assert "| babble | -5 | model | 3 | **2.00 ± " in table  # best per cell in bold
    assert format_csv(rows).splitlines()[0].startswith("method,noise_type,snr_db,n,")
