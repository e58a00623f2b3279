"""``avgen data ...``: build the offline audio-visual data kit, render lips."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build the offline data kit, render lips")
    dsub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])
    _ = dsub  # subcommands are added by the data kit (build, lips, ...)
