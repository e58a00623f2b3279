"""Many files: one function per file, failures recorded and the rest going on, resumable,
optionally in parallel processes.

:func:`collect_items` turns a folder of wavs or a text file listing paths into
:class:`BatchItem` s (input, optional lips, output in ``OUTDIR``), refusing before any work a
list whose outputs collide or would overwrite an input. :func:`run_batch` runs
``process_one(item) -> str`` on each:

* **failures are recorded, not raised.** A user's mistake (:class:`~avgen.errors.AvgenError`:
  bad audio, a video that does not fit) is the file's one-line reason; any other exception is
  recorded as ``internal error: <type>: <message>`` (the one place of the library that catches
  broadly: one broken file must not cost the others, and the summary says it is a bug). A
  worker process that dies (killed for memory) fails the files it had.
* **resumable.** With ``resume`` an item whose output exists is skipped: outputs are written
  atomically (:mod:`avgen.files`), so an existing output is a complete one; a killed run leaves
  none for the file it was on, and the rerun does that file again.
* **parallel.** ``jobs > 1`` runs items in that many spawned processes, each with
  ``max(1, threads // jobs)`` torch threads (the machine's threads are shared, not multiplied:
  ``jobs`` processes of ``threads`` threads each would oversubscribe the cores). Each item's
  result depends only on the item and its settings (the command line gives every file the same
  seed), never on the order or the worker.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avgen.errors import AvgenError, ConfigError
from avgen.progress import progress_bar

LIST_SUFFIXES = (".txt", ".lst", ".list")
"""A text file with one input path a line (``#`` comments, blank lines ignored)."""

AUDIO_SUFFIXES = (".wav", ".flac")
LIPS_SUFFIXES = (".npy", ".mp4", ".avi", ".mov", ".mkv")


@dataclass(frozen=True)
class BatchItem:
    """One file of a batch: its ``name`` (for the table), ``source``, the lips found with it
    (``None``: none) and the ``output`` to write."""

    name: str
    source: Path
    output: Path
    lips: Path | None = None


@dataclass(frozen=True)
class BatchRow:
    """What happened to one item: ``status`` ``"done"``, ``"skipped"`` (its output existed)
    or ``"failed"``; ``message`` the one-line summary or reason."""

    name: str
    status: str
    message: str
    seconds: float = 0.0


@dataclass
class BatchSummary:
    """The rows of a batch, in the items' order."""

    rows: list[BatchRow] = field(default_factory=list)

    @property
    def failed(self) -> list[BatchRow]:
        return [r for r in self.rows if r.status == "failed"]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    def table(self) -> str:
        """A plain-text table, one line a file, and a totals line."""
        width = max([4, *(len(r.name) for r in self.rows)])
        lines = [f"{'file':<{width}}  {'status':<7}  {'s':>7}  message"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {r.status:<7}  {r.seconds:7.1f}  {r.message}")
        lines.append(
            f"{len(self.rows)} file(s): {self.count('done')} done, "
            f"{self.count('skipped')} skipped (already written), {self.count('failed')} failed"
        )
        return "\n".join(lines)


def is_batch_input(path: Path) -> bool:
    """A folder, or a list file (:data:`LIST_SUFFIXES`)."""
    return path.is_dir() or path.suffix.lower() in LIST_SUFFIXES


def _sibling_lips(audio: Path) -> Path | None:
    for suffix in LIPS_SUFFIXES:
        candidate = audio.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def collect_items(source: Path, outdir: Path, *, suffix: str = ".wav") -> list[BatchItem]:
    """The items of a folder (its audio files, not recursive; lips: a file of the same stem
    with a video suffix, if any) or of a list file (one ``AUDIO [LIPS]`` a line, relative paths
    from the list's folder). Outputs are ``outdir / (stem + suffix)``.

    Raises:
        ConfigError: no such folder or list, an empty batch, two inputs with one output name,
            an output that is an input, or ``outdir`` an existing file.
    """
    if outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"{outdir}: with a folder or list of inputs, -o must be a folder")
    if source.is_dir():
        pairs = [
            (p, _sibling_lips(p))
            for p in sorted(source.iterdir())
            if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
        ]
    elif source.is_file():
        pairs = []
        for line in source.read_text(encoding="utf-8").splitlines():
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) > 2:
                raise ConfigError(f"{source}: expected 'AUDIO [LIPS]' a line, got {line!r}")
            paths = [p if p.is_absolute() else source.parent / p for p in map(Path, fields)]
            pairs.append((paths[0], paths[1] if len(paths) > 1 else None))
    else:
        raise ConfigError(f"{source}: no such folder or list file")
    if not pairs:
        raise ConfigError(f"{source}: no audio files ({', '.join(AUDIO_SUFFIXES)}) to process")
    items = [BatchItem(a.name, a, outdir / (a.stem + suffix), lips) for a, lips in pairs]
    check_outputs(items)
    return items


def check_outputs(items: Sequence[BatchItem]) -> None:
    """:class:`ConfigError` when two items share an output or an output is an input."""
    inputs = {p.resolve() for i in items for p in (i.source, i.lips) if p is not None}
    seen: dict[Path, str] = {}
    for item in items:
        out = item.output.resolve()
        if out in inputs:
            raise ConfigError(
                f"{item.output}: the output would overwrite an input; choose another -o"
            )
        if out in seen:
            raise ConfigError(
                f"{seen[out]} and {item.source} would both be written to {item.output}; "
                "rename one of them"
            )
        seen[out] = str(item.source)


def _run_one(process_one: Callable[[BatchItem], str], item: BatchItem) -> BatchRow:
    """One item, its failure recorded (module docstring: the one broad catch)."""
    started = time.perf_counter()
    try:
        message = process_one(item)
        status = "done"
    except AvgenError as exc:
        message, status = str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "failed"
    except Exception as exc:  # a batch records a bug and goes on (module docstring)
        first = str(exc).splitlines()[0] if str(exc) else ""
        message, status = f"internal error: {type(exc).__name__}: {first}", "failed"
    return BatchRow(item.name, status, message, time.perf_counter() - started)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_batch(
    items: Sequence[BatchItem],
    process_one: Callable[[BatchItem], str],
    *,
    jobs: int = 1,
    resume: bool = True,
    threads: int = 1,
    progress: bool | None = None,
) -> BatchSummary:
    """Run ``process_one`` on every item (module docstring) and return the summary.

    ``process_one`` must write ``item.output`` atomically and return a one-line summary; with
    ``jobs > 1`` it must be picklable (a module-level function, or a
    :func:`functools.partial` of one). ``threads`` is the torch threads of the whole batch.
    """
    if jobs < 1 or threads < 1:
        raise ConfigError(f"need --jobs >= 1 and --threads >= 1, got {jobs} and {threads}")
    rows: dict[int, BatchRow] = {}
    todo = []
    for index, item in enumerate(items):
        if resume and item.output.is_file():
            rows[index] = BatchRow(item.name, "skipped", f"{item.output} exists")
        else:
            todo.append(index)
    bar = progress_bar(len(items), "batch", progress, unit="file")
    bar.update(len(rows))
    try:
        if jobs == 1 or len(todo) <= 1:
            _init_worker(max(1, threads // jobs))
            for index in todo:
                rows[index] = _run_one(process_one, items[index])
                bar.update()
        else:
            _run_parallel(items, todo, process_one, jobs, threads, rows, bar.update)
    finally:
        bar.close()
    return BatchSummary([rows[i] for i in range(len(items))])


def _run_parallel(
    items: Sequence[BatchItem],
    todo: list[int],
    process_one: Callable[[BatchItem], str],
    jobs: int,
    threads: int,
    rows: dict[int, BatchRow],
    tick: Callable[[], object],
) -> None:
    context = multiprocessing.get_context("spawn")
    workers = min(jobs, len(todo))
    with futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(max(1, threads // jobs),)
    ) as pool:
        pending = {pool.submit(_run_one, process_one, items[i]): i for i in todo}
        for future in futures.as_completed(pending):
            index = pending[future]
            try:
                rows[index] = future.result()
            except futures.process.BrokenProcessPool as exc:
                message = f"internal error: the worker process died ({exc})"
                rows[index] = BatchRow(items[index].name, "failed", message)
            tick()
