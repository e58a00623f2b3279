"""What the benchmark scripts share: median wall times and markdown table lines.

A script run as ``python benchmarks/<name>.py`` has this folder first on ``sys.path``, so it
imports these helpers as ``from _bench import median_time``; ``avgen`` and ``inference`` come
from the installed package (``make`` installs the checkout with ``pip install -e .``; from a
checkout that is not installed, run with ``PYTHONPATH=.``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def median_time_and_result(
    fn: Callable[[], T],
    repeats: int,
    warmup: int = 1,
    *,
    sync: Callable[[], object] | None = None,
) -> tuple[float, T]:
    """Median wall time in seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed
    ones, and what the last timed call returned.

    The first calls of a process pay for imports, allocator growth and lazy initialisation;
    ``warmup`` keeps them out of the median. ``sync`` (e.g. ``torch.cuda.synchronize``) is
    called after every call, inside the timed span, so that asynchronous work is counted.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
        if sync is not None:
            sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def median_time(
    fn: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    *,
    sync: Callable[[], object] | None = None,
) -> float:
    """Median wall time in seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed
    ones (see :func:`median_time_and_result`)."""
    return median_time_and_result(fn, repeats, warmup, sync=sync)[0]


def markdown_row(*cells: object) -> str:
    """One markdown table row: ``| a | b | c |``."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown_header(*columns: str, align: str = "") -> str:
    """The header row and the separator line of a markdown table.

    ``align`` has one letter per column: ``"r"`` right-aligns it (``---:``); any other letter,
    or a column past the end of ``align``, leaves the default (``---``).
    """
    rules = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(columns))]
    return markdown_row(*columns) + "\n|" + "|".join(rules) + "|"
