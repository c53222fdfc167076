"""The one exception type for bad input a user can fix; the CLI prints it as one line (exit 2)."""


class UsageError(ValueError):
    """Bad input (a flag, a file, a run directory); the message names the problem and the fix."""
