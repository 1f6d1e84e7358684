"""Errors of our own, so the CLI can turn any of them into one line and exit code 2."""

from __future__ import annotations


class EdgeEcgError(Exception):
    """Base class: the message is one line that names the file/record/field and what to do."""


class InputError(EdgeEcgError):
    """A signal, file or option the user gave us is unusable."""


class DataError(EdgeEcgError):
    """The PhysioNet data directory or a record in it is missing or damaged."""


class ModelError(EdgeEcgError):
    """A model file is missing, corrupt, or does not match the preprocessing."""


class OutputError(EdgeEcgError):
    """An output could not be written (unwritable directory, full disk)."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none): foreign
    libraries' errors are shown in one line, not as a traceback."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
