"""``avgen info``: versions, devices and which system tools are present."""

from __future__ import annotations

import argparse
import platform

from avgen.system import SYSTEM_TOOLS, tool_status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions, devices and system tools")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy
    import pyro
    import torch

    from avgen import __version__

    print(f"avgen       {__version__}")
    print(f"python      {platform.python_version()} ({platform.machine()})")
    print(f"torch       {torch.__version__}  threads={torch.get_num_threads()}")
    print(f"pyro-ppl    {pyro.__version__}")
    print(f"numpy       {numpy.__version__}")
    cuda = torch.cuda.is_available()
    devices = (
        ["cpu"]
        + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
        if cuda
        else ["cpu"]
    )
    print(f"devices     {', '.join(devices)}")
    print("system tools:")
    for tool in SYSTEM_TOOLS:
        found = tool_status(tool)
        mark = "yes" if found else "no "
        print(
            f"  [{mark}] {tool.name:<28} {tool.purpose}"
            + ("" if found else f"  (apt-get install {tool.debian_package})")
        )
    return 0
