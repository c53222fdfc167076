"""A one-line progress bar for terminals; silent when stderr is not a TTY (CI, logs, pipes)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, label: str, stream=sys.stderr):
        self.label, self.stream, self.enabled = label, stream, stream.isatty()
        self.start = time.perf_counter()

    def __call__(self, step: int, total: int) -> None:
        if not self.enabled or (step % 10 and step != total):
            return
        width = 30
        filled = int(width * step / max(total, 1))
        elapsed = time.perf_counter() - self.start
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {step}/{total} "
            f"{elapsed:5.0f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()
