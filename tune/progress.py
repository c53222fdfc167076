"""Progress in the terminal, drawn one way: `[#####.......]`, for the batches of an epoch
(`rnn-tune train`, silent when stderr is not a TTY: CI, logs, pipes) and for a sweep's trials
(tune/sweep/records.LiveProgress)."""

from __future__ import annotations

import sys
import time


def bar(fraction: float, width: int) -> str:
    """`[###.......]`: `fraction` (clipped to 0..1) of `width` cells filled."""
    filled = int(width * min(1.0, max(0.0, fraction)))
    return f"[{'#' * filled}{'.' * (width - filled)}]"


class ProgressBar:
    def __init__(self, label: str, stream=sys.stderr):
        self.label, self.stream, self.enabled = label, stream, stream.isatty()
        self.start = time.perf_counter()

    def __call__(self, step: int, total: int) -> None:
        if not self.enabled or (step % 10 and step != total):
            return
        elapsed = time.perf_counter() - self.start
        self.stream.write(
            f"\r{self.label} {bar(step / max(total, 1), 30)} {step}/{total} {elapsed:5.0f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


STATUSES = ("running", "pending", "completed", "stopped_early", "errored")


def sweep_line(
    counts: dict[str, int],
    elapsed: float,
    num_samples: int | None,
    time_budget_s: float | None,
    best: tuple[float, str, str] | None,
    width: int = 24,
) -> str:
    """`[#####.....] 7/24 trials  running 2  best 88.10% (lstm)  3m10s  ETA 6m40s`.

    The bar follows whichever ends the sweep first, the trial count or the time budget; the ETA
    extrapolates the finished trials' pace and is capped by the budget.
    """
    done = sum(counts.get(k, 0) for k in ("completed", "stopped_early", "errored"))
    fractions, etas = [], []
    if num_samples:
        fractions.append(done / num_samples)
        if done:
            etas.append(elapsed * (num_samples - done) / done)
    if time_budget_s:
        fractions.append(elapsed / time_budget_s)
        etas.append(max(0.0, time_budget_s - elapsed))
    line = f"{bar(max(fractions, default=0.0), width)} {done}/{num_samples or '?'} trials"
    line += f"  running {counts.get('running', 0)}"
    if best:
        line += f"  best {best[0]:.2%} ({best[1]})"
    line += f"  {clock(elapsed).strip()}"
    if counts.get("running", 0) or counts.get("pending", 0):
        line += f"  ETA {clock(min(etas)).strip()}" if etas else "  ETA ?"
    return line


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:3d}m{secs:02d}s"
