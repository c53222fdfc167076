"""The exception type for bad data input; the CLI prints it as a one-line error (exit 2)."""

from base.errors import UsageError


class DataError(UsageError):
    """Input data (files, columns, downloads, cache) is unusable; the message names the fix."""
