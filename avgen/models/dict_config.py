"""Reading a configuration dataclass back from its plain-dict form, refusing unknown keys."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from avgen.errors import ConfigError

T = TypeVar("T")


def checked_from_dict(cls: type[T], d: Mapping[str, Any]) -> T:
    """``cls(**d)`` for a dataclass ``cls``; a key that is not one of its fields is a
    :class:`ConfigError` ``"<cls>: unknown field(s) [...]"`` (a checkpoint or file written by
    another version), missing or invalid fields are left to the constructor."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {unknown}")
    return cls(**dict(d))
