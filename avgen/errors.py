"""Exceptions for mistakes a user can make and fix.

Every error that is the user's to fix (a wrong sample rate, a corrupt checkpoint, a missing
system tool) derives from :class:`AvgenError`. The command line prints its message as one line
on stderr and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class AvgenError(Exception):
    """Base class of user-facing errors: the message alone must say what to do."""


class AudioError(AvgenError):
    """Audio that cannot be used as given (sample rate, channels, NaN, silence, length)."""


class VideoError(AvgenError):
    """Lip video that cannot be used as given (shape, length mismatch with the audio)."""


class ImageError(AvgenError):
    """A picture that cannot be used: missing, not an image, unreadable."""


class CheckpointError(AvgenError):
    """A checkpoint that is corrupt, foreign, or for another model than the one asked for."""


class DataError(AvgenError):
    """A data-kit folder or manifest that is missing, incomplete or inconsistent."""


class MissingToolError(AvgenError):
    """A system tool (flite, festival, espeak-ng, ...) that is not installed."""


class ConfigError(AvgenError):
    """An option or a combination of options that does not make sense."""


class TrainingError(AvgenError):
    """Training that cannot go on: the loss became non-finite (lower the learning rate, clip
    the gradients). The last checkpoint written stays as it was (checkpoints are written
    atomically between steps, never after a bad one)."""


class OutputError(AvgenError):
    """An output path that cannot be written (no such folder, a file where a folder should be,
    no permission, the name of an input)."""
