"""A fake monotonic clock: time moves only when a test says so, so integration is exact."""

from __future__ import annotations

from collections.abc import Callable


class FakeClock:
    """Callable returning the current fake time (s); ``advance`` moves it and notifies fakes."""

    def __init__(self, start_s: float = 1000.0):
        self.t_s = start_s
        self._listeners: list[Callable[[float], None]] = []

    def __call__(self) -> float:
        return self.t_s

    def on_advance(self, listener: Callable[[float], None]) -> None:
        """Call listener(new_time_s) after every advance (fake hardware updates itself)."""
        self._listeners.append(listener)
        listener(self.t_s)

    def advance(self, dt_s: float) -> float:
        """Move time forward by dt_s seconds; return the new time."""
        if dt_s < 0:
            raise ValueError("a monotonic clock never goes back")
        self.t_s += dt_s
        for listener in self._listeners:
            listener(self.t_s)
        return self.t_s
