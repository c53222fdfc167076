"""The one exception type for bad data input; the CLI prints it as a one-line error (exit 2)."""


class DataError(ValueError):
    """Input data (files, columns, downloads, cache) is unusable; the message names the fix."""
