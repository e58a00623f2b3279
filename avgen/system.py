"""System tools and data packages avgen uses, and how to tell whether they are installed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from avgen.errors import MissingToolError


@dataclass(frozen=True)
class SystemTool:
    """A program or a data folder from a Debian package."""

    name: str
    debian_package: str
    purpose: str
    executable: str | None = None
    path: str | None = None

    def present(self) -> bool:
        if self.executable is not None:
            return shutil.which(self.executable) is not None
        if self.path is not None:
            return Path(self.path).exists()
        return False


SYSTEM_TOOLS: tuple[SystemTool, ...] = (
    SystemTool("flite", "flite", "TTS voices with phone timing", executable="flite"),
    SystemTool("festival", "festival", "TTS (slt HTS, kal/ked diphone)", executable="festival"),
    SystemTool("espeak-ng", "espeak-ng", "TTS, many voices and languages", executable="espeak-ng"),
    SystemTool("sox", "sox", "audio conversion", executable="sox"),
    SystemTool("ffmpeg", "ffmpeg", "reading .mp4 lip videos", executable="ffmpeg"),
    SystemTool(
        "asterisk prompts (en)",
        "asterisk-core-sounds-en-g722",
        "real speech (CC-BY-SA-3.0)",
        path="/usr/share/asterisk/sounds/en_US_f_Allison",
    ),
    SystemTool(
        "asterisk transcripts (en)",
        "asterisk-core-sounds-en",
        "prompt texts",
        path="/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz",
    ),
    SystemTool(
        "ufoai ambience",
        "ufoai-sound",
        "real ambient noise recordings",
        path="/usr/share/games/ufoai/base/0snd.pk3",
    ),
)


def tool_status(tool: SystemTool) -> bool:
    """Whether ``tool`` is installed."""
    return tool.present()


def require_tool(name: str) -> SystemTool:
    """Return the tool called ``name`` or raise :class:`MissingToolError` saying how to get it."""
    for tool in SYSTEM_TOOLS:
        if tool.name == name:
            if not tool.present():
                raise MissingToolError(
                    f"{tool.name} is not installed ({tool.purpose}); "
                    f"install it with: apt-get install {tool.debian_package}"
                )
            return tool
    raise KeyError(name)
