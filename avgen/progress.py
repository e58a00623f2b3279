"""Progress bars for long work (tqdm), quiet when asked or when output is not a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress_enabled(requested: bool | None = None) -> bool:
    """Whether to draw bars: explicit request, else ``AVGEN_PROGRESS`` (0/1), else a TTY."""
    if requested is not None:
        return requested
    env = os.environ.get("AVGEN_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false", "no")
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T],
    desc: str,
    total: int | None = None,
    enabled: bool | None = None,
    **kwargs,
) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when progress is enabled."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        disable=not progress_enabled(enabled),
        dynamic_ncols=True,
        leave=False,
        **kwargs,
    )


def progress_bar(total: int, desc: str, enabled: bool | None = None, **kwargs) -> tqdm:
    """A manual tqdm bar (call ``update``/``set_postfix``), disabled like :func:`progress`."""
    return tqdm(
        total=total,
        desc=desc,
        disable=not progress_enabled(enabled),
        dynamic_ncols=True,
        leave=False,
        **kwargs,
    )
