"""The Meter's collaborators, each alone: SIGTERM guard, journal session, tuning session."""

from __future__ import annotations

import signal
import threading

import pytest

from greenai import journal as journal_mod
from greenai.errors import GreenAIError
from greenai.meter import combined_rates
from greenai.sampler import Sampler
from greenai.session import JournalSession, SigtermGuard, Terminated, TuningSession
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant


@pytest.fixture
def default_sigterm():
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_guard_installs_once_checkpoints_newest_first_and_restores(default_sigterm):
    guard, calls = SigtermGuard(), []
    outer, inner = (lambda: calls.append("outer")), (lambda: calls.append("inner"))
    guard.enter(outer)
    handler = signal.getsignal(signal.SIGTERM)
    guard.enter(inner)
    assert signal.getsignal(signal.SIGTERM) is handler and guard.installed
    with pytest.raises(Terminated) as info:
        handler(signal.SIGTERM, None)
    assert calls == ["inner", "outer"] and info.value.code == 128 + signal.SIGTERM
    guard.leave(inner)
    assert signal.getsignal(signal.SIGTERM) is handler  # the outer meter is still open
    guard.leave(outer)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and not guard.installed


def test_guard_chains_to_the_users_handler_and_leaves_a_replacement(default_sigterm):
    seen = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    guard, calls = SigtermGuard(), []
    guard.enter(lambda: calls.append("meter"))
    signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # type: ignore[operator]
    assert calls == ["meter"] and seen == [signal.SIGTERM]  # no Terminated: the user decides

    def theirs(signum, frame):
        return None

    signal.signal(signal.SIGTERM, theirs)  # replaced while the meter is open
    guard.leave(guard._open[0])
    assert signal.getsignal(signal.SIGTERM) is theirs  # not ours to put back


def test_guard_in_a_thread_registers_without_touching_signals(default_sigterm):
    guard = SigtermGuard()

    def work() -> None:
        guard.enter(print)
        guard.leave(print)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert not guard.installed and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_journal_session_checkpoints_the_state_it_is_given(tmp_path):
    clock = FakeClock()
    sampler = Sampler([ClockProbe("c", clock, constant(10.0))], clock=clock)
    sampler.sample()
    problems: list[str] = []
    path = tmp_path / "run.journal"
    session = JournalSession(
        path, 3600.0, sampler, lambda: {"u": 7.0, "ph": {}, "exit_code": None}, problems.append
    )
    session.open({"t0": clock(), "e0": [0.0], "f0": [None], "probes": []})
    clock.advance(2.0)
    assert session.checkpoint()
    session.stop()
    contents = journal_mod.read(path)
    assert contents.checkpoints == 1 and contents.last["u"] == 7.0
    assert contents.last["e"] == [pytest.approx(20.0)]
    session.end("ok", remove=False)
    assert journal_mod.read(path).ended == {"k": "e", "status": "ok"} and not problems
    session.end(None, remove=True)  # the result was written elsewhere: the journal goes
    assert not path.exists()


class _Tuner:
    def __init__(self, fail: bool = False, rounds: int = 2):
        self.fail, self.rounds, self.counted = fail, rounds, 0.0

    def begin(self, reading, clock, journal):
        if self.fail:
            raise GreenAIError("no device to tune")

    def on_count(self, n):
        self.counted += n
        self.rounds -= 1
        return self.rounds > 0

    def end(self, provenance):
        class Block:
            notes = ["the run ended during the search", "power limit restored late"]

        return Block()


def test_tuning_session_reports_a_refusal_and_ends_with_the_block():
    problems: list[str] = []
    refused = TuningSession(_Tuner(fail=True), problems.append)
    assert not refused.begin(lambda: (0.0, 0.0), lambda: 0.0, None)
    assert problems == ["not tuned: no device to tune"]
    session = TuningSession(_Tuner(), problems.append)
    assert session.begin(lambda: (0.0, 0.0), lambda: 0.0, None) and session.searching
    assert session.on_count(1) and not session.on_count(1)  # the search is over
    block = session.end("measured")
    assert session.result is block and problems[-1] == "power limit restored late"


def test_combined_rates_serve_every_open_meter():
    assert combined_rates([(0.1, 1.0)]) == (0.1, 1.0)
    assert combined_rates([(0.1, 1.0), (0.1, 10.0)]) == (0.1, 10.0)  # the finest timeline
    assert combined_rates([(0.1, 0.0), (0.1, 0.0)]) == (0.1, 0.0)  # none wants one
    assert combined_rates([(0.1, 1.0), (0.01, None)]) == (0.01, None)  # follows 0.01 s
    assert combined_rates([(0.05, None), (0.1, 1.0)]) == (0.05, None)  # 20 Hz, as it follows
    interval, hz = combined_rates([(0.1, None), (0.01, 0.0)])
    assert interval == 0.01 and hz == pytest.approx(10.0)  # the first meter's 0.1 s timeline
