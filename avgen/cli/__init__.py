"""The ``avgen`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers) -> None``, which adds its parser and sets ``handler`` (a function of the
parsed namespace returning an exit code). A user's mistake (:class:`~avgen.errors.AvgenError`)
prints one line on stderr and exits with status 2; a numerical failure of ours
(:class:`inference.errors.NumericalError`) one line that says so and status 3 (``-v`` for the
traceback); other bugs keep their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from avgen.errors import AvgenError
from inference.errors import NumericalError

#: Subcommand modules, in the order ``avgen --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "info",
    "data",
    "train",
    "models",
    "enhance",
    "eval",
    "dereverb",
    "match",
    "stylize",
    "demo",
)


class _Parser(argparse.ArgumentParser):
    """argparse prints usage + message and exits 2; keep that but make it one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def one_line(message: str) -> str:
    """``message`` as one line: each run of whitespace (the newlines of a tool's quoted stderr)
    becomes one space."""
    return " ".join(message.split())


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every subcommand registered."""
    from avgen import __version__

    parser = _Parser(
        prog="avgen",
        description="Probabilistic audio-visual generative models "
        "for speech: data kit, priors, enhancement, dereverberation.",
    )
    parser.add_argument("--version", action="version", version=f"avgen {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"avgen.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``avgen``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="avgen: %(message)s"
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except AvgenError as exc:
        print(f"avgen: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except NumericalError as exc:
        # ours, not the user's: say so, name where, and keep the details one flag away
        if args.verbose:
            raise
        print(
            f"avgen: internal error (a numerical failure of avgen, not of your input; please "
            f"report it, -v shows the traceback): {one_line(str(exc))}",
            file=sys.stderr,
        )
        return 3
    except KeyboardInterrupt:
        print("avgen: interrupted", file=sys.stderr)
        return 130
