"""Progress lines and rate summaries for long-running commands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Progress:
    """Counts work from any thread and prints a line at most every `every` seconds."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "items",
        every: float = 1.0,
        out: Callable[[str], None] = print,
    ) -> None:
        self.label, self.total, self.unit, self.every, self.out = label, total, unit, every, out
        self.done = 0
        self.started = time.perf_counter()
        self._last_print = self.started
        self._printed_at: int | None = None
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        """Units per second since the start."""
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """The current progress as one line."""
        text = f"{self.label}: {self.done:,} {self.unit}"
        if self.total:
            share = min(1.0, self.done / self.total)
            text += f" of {self.total:,} ({share:.0%})"
            if self.rate > 0 and share < 1:
                text += f", about {(self.total - self.done) / self.rate:.0f} s left"
        return f"{text}, {self.rate:,.0f} {self.unit}/s"

    def advance(self, amount: int) -> None:
        """Count `amount` more units; print when a line is due."""
        with self._lock:
            self.done += amount
            now = time.perf_counter()
            if now - self._last_print >= self.every:
                self._last_print = now
                self._printed_at = self.done
                self.out(self.line())

    def finish(self) -> None:
        """Print the final count, unless the last line already said it."""
        if self._printed_at != self.done:
            self.out(self.line())
