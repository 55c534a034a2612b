"""What a Meter composes besides its sampler: SIGTERM handling, the journal, a tuning run.

Each is a small object with its own tests' worth of behaviour and no knowledge of the
Meter: it is handed the callables it needs (a snapshot, the run's counters, where to
report a problem). The Meter orchestrates them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from greenai.errors import GreenAIError
from greenai.journal import JournalWriter
from greenai.sampler import Sampler, Snapshot

try:  # the C call signal.getsignal wraps: no enum look-up (an exception) per nested meter
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover - not CPython
    _getsignal = signal.getsignal

JOURNAL_MARGIN_S = 0.002  # scheduling slack kept between a checkpoint and the period's end


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives during metering (exit code 128 + N)."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


# --------------------------------------------------------------------- SIGTERM
class SigtermGuard:
    """One SIGTERM handler for the process while any meter is open.

    On SIGTERM every open meter checkpoints (newest first); then the handler that was there
    before runs, or, if there was none of the user's, Terminated is raised in the main
    thread. Installed by the first meter, put back when the last leaves (only if it is
    still ours): a window inside another pays a list append, not two signal calls.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Callable[[], Any]] = []  # each open meter's checkpoint
        self._previous: Any = None
        self._installed = False
        self._handler = self._handle  # one bound method, so that `is` finds it installed

    def enter(self, checkpoint: Callable[[], Any]) -> None:
        """Register an open meter's checkpoint; install the handler from the main thread."""
        with self._lock:
            self._open.append(checkpoint)
            if threading.get_ident() != threading.main_thread().ident:
                return
            current = _getsignal(signal.SIGTERM)  # SIG_DFL, SIG_IGN as plain ints
            if self._installed and current is self._handler:
                return
            if current == signal.SIG_IGN or current is None:
                return  # the process ignores SIGTERM (or it is not Python's): leave it
            # first meter, or someone replaced ours since: chain to what is there now
            signal.signal(signal.SIGTERM, self._handler)
            self._previous, self._installed = current, True

    def leave(self, checkpoint: Callable[[], Any]) -> None:
        """Unregister; put the previous handler back when the last meter has left."""
        with self._lock:
            try:
                self._open.remove(checkpoint)
            except ValueError:
                return
            if self._open or not self._installed:
                return
            if threading.get_ident() != threading.main_thread().ident:
                return  # a later main-thread meter's leave puts it back
            if _getsignal(signal.SIGTERM) is self._handler:
                signal.signal(signal.SIGTERM, self._previous)
            self._installed, self._previous = False, None

    @property
    def installed(self) -> bool:
        """Return whether greenai's handler is installed now."""
        return self._installed

    def _handle(self, signum: int, frame: Any) -> None:
        for checkpoint in reversed(list(self._open)):
            checkpoint()
        previous = self._previous
        if callable(previous):
            previous(signum, frame)  # the user's own handler decides what happens
        else:
            raise Terminated(signum)


# --------------------------------------------------------------------- journal
class JournalSession:
    """A run's journal: header at start, a checkpoint every period (on its own thread),
    an end record; a kill loses at most one period."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        period_s: float,
        sampler: Sampler,
        state: Callable[[], dict[str, Any]],
        problem: Callable[[str], None],
    ):
        self.writer = JournalWriter(path)  # type: ignore[arg-type]
        self.period_s = period_s
        self._sampler = sampler
        self._state = state  # the run's counters now: {"u": units, "ph": phases, ...}
        self._problem = problem
        self._faults_sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self, header: dict[str, Any]) -> None:
        """Write the header and start checkpointing (reports a write error, never raises)."""
        self.writer.open(header)
        if self.writer.error:
            self._problem(self.writer.error)
            return
        if self.writer.moved_from is not None:
            self._problem(
                f"journal {self.writer.moved_from} exists (another run's, or one a killed "
                f"run left for recovery): this run journals to {self.writer.path}"
            )
        self._thread = threading.Thread(target=self._loop, name="greenai-journal", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        # Checkpoints start early by the time a checkpoint takes, so that the newest record
        # on disk is never older than one period: a kill loses at most one period.
        cost_s = 0.0
        next_s = time.monotonic() + self.period_s
        while not self._stop.wait(max(next_s - cost_s - time.monotonic(), 0.0)):
            began = time.monotonic()
            if not self.checkpoint():
                return
            cost_s = max(time.monotonic() - began, 0.5 * cost_s) + JOURNAL_MARGIN_S
            next_s = began + self.period_s

    def checkpoint(self) -> bool:
        """Append a checkpoint now; return False if journaling has stopped."""
        writer = self.writer
        if writer.error:
            return False
        snap: Snapshot = self._sampler.snapshot()
        faults = self._sampler.faults[self._faults_sent :]
        record = {
            "k": "c",
            "t": snap.t_s,
            "e": list(snap.energy_j),
            "f": list(snap.failed_at_s),
            **self._state(),
            "faults": [[f.probe, f.t_s, f.error, f.fatal] for f in faults],
        }
        ok = writer.append(record)
        if ok:
            self._faults_sent += len(faults)
        else:
            self._problem(writer.error or "journal write failed")
        return ok

    def stop(self) -> None:
        """Stop the checkpoint thread (waits for a checkpoint under way)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def end(self, status: str | None, remove: bool) -> None:
        """Append the end record (when there is a result) and close; remove the file when
        the final result was written elsewhere."""
        if status is not None:
            self.writer.append({"k": "e", "status": status})
        self.writer.close(remove=remove)


# --------------------------------------------------------------------- tuning
class TuningSession:
    """A tuner run inside a meter: begun at start, told of every count, ended at stop."""

    def __init__(self, tuner: Any, problem: Callable[[str], None]):
        if tuner is True:  # tune=True (also through the framework callbacks)
            from greenai.optimize import PowerLimitTuner

            tuner = PowerLimitTuner()
        self.tuner = tuner
        self._problem = problem
        self.searching = False
        self.result: Any = None  # the tuner's Optimisation once it has ended

    def begin(
        self,
        reading: Callable[[], tuple[float, float]],
        clock: Callable[[], float],
        journal: Callable[[dict[str, Any]], Any] | None,
    ) -> bool:
        """Start the search; return False (device unchanged, problem noted) if it cannot."""
        try:
            self.tuner.begin(reading, clock, journal)
        except (GreenAIError, OSError) as exc:  # the device is unchanged: the run goes on
            self._problem(f"not tuned: {exc}")
            return False
        self.searching = True
        return True

    def on_count(self, n: float) -> bool:
        """Tell the tuner of n units done; return False once its search is over."""
        self.searching = bool(self.tuner.on_count(n))
        return self.searching

    def end(self, provenance: str) -> Any:
        """End the run (the device restored); return its Optimisation block."""
        self.searching = False
        block = self.tuner.end(provenance)
        for note in block.notes:
            if not note.startswith("the run ended"):
                self._problem(note)
        self.result = block
        return block
