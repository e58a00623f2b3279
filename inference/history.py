"""The trace of an iterative inference run: one record per iteration, the same for every scheme.

EM (:func:`inference.em.run_em`) appends one :class:`~inference.em.IterationRecord` per EM
iteration; a posterior-sampling run with M-steps appends one record per reverse step. A record
is any ``NamedTuple`` with an ``objective`` field (lower is better, the quantity a user plots to
see convergence); the other fields are the scheme's own (acceptance rate, noise level, ...).
:meth:`History.column` reads any of them, :meth:`History.as_dict` gives the columns of a table
or a JSON file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

R = TypeVar("R", bound=NamedTuple)


@dataclass
class History(Generic[R]):
    """Records of a run, in order, and why it stopped.

    Attributes:
        records: one ``NamedTuple`` per iteration, each with an ``objective`` field.
        converged: the run stopped on its tolerance.
        stop_reason: ``"n_iter"``, ``"tol"``, ``"callback"``, ...
    """

    records: list[R] = field(default_factory=list)
    converged: bool = False
    stop_reason: str = ""

    def append(self, record: R) -> None:
        self.records.append(record)

    def column(self, name: str) -> list[Any]:
        """The field (or property) ``name`` of every record (``KeyError`` naming the fields if
        absent)."""
        if self.records and not hasattr(self.records[0], name):
            raise KeyError(
                f"history records have no {name!r}; they have {', '.join(self.records[0]._fields)}"
            )
        return [getattr(r, name) for r in self.records]

    @property
    def objective(self) -> list[float]:
        return self.column("objective")

    @property
    def n_iter(self) -> int:
        return len(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> R:
        return self.records[index]

    def __iter__(self):
        return iter(self.records)

    def as_dict(self) -> dict[str, list[Any]]:
        """Columns for a table or a JSON file (tuples become lists)."""
        if not self.records:
            return {}
        return {
            name: [_plain(getattr(r, name)) for r in self.records]
            for name in self.records[0]._fields
        }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
