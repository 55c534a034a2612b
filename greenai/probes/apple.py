"""Apple silicon through ``powermetrics`` (macOS; needs root).

``powermetrics --samplers cpu_power,gpu_power -f plist -i <ms>`` writes one XML plist per
interval, separated by NUL bytes. Each has ``elapsed_ns`` and a ``processor`` dict with
the interval's ``cpu_energy``, ``gpu_energy`` and ``ane_energy`` (mJ) and
``combined_power`` (mW, the sum of the three); older releases put ``gpu_energy`` in a
``gpu`` dict. greenai runs it on a reader thread and offers cumulative energy per
channel: ``apple:cpu``, ``apple:gpu``, ``apple:ane`` count (the Neural Engine is an
accelerator, so its domain is gpu), and ``apple:package`` (combined) contains them and
is kept out of the total, as RAPL's psys is. Between samples the counter is extended at
the last interval's power and never goes back, so a window edge is exact to well under
one interval. When powermetrics exits the probes fail with its exit code.

IOReport's ``Energy Model`` channels give the same energies without root (see
``ioreport.py``); where they are read, powermetrics is not started.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from greenai.errors import ProbeError
from greenai.probes.base import Discovery, Method, ProbeUnavailable

ENV_POWERMETRICS = "GREENAI_POWERMETRICS"  # a powermetrics command (e.g. a sudo -n wrapper)
ENV_INTERVAL_MS = "GREENAI_POWERMETRICS_INTERVAL_MS"
DEFAULT_INTERVAL_MS = 100
CHANNELS = {  # probe suffix -> (domain, counts_in_total, plist key of the interval's mJ)
    "cpu": ("cpu", True, "cpu_energy"),
    "gpu": ("gpu", True, "gpu_energy"),
    "ane": ("gpu", True, "ane_energy"),
    "package": ("system", False, "combined_power"),
}
ROOT_REMEDY = (
    "powermetrics needs root: run greenai with sudo, or set GREENAI_POWERMETRICS to a script "
    'that runs `sudo -n /usr/bin/powermetrics "$@"` under a sudoers rule.'
)


def parse_sample(chunk: bytes) -> dict[str, float]:
    """Return one powermetrics plist sample as {cpu, gpu, ane, package: mJ, elapsed_s}."""
    import plistlib  # macOS only: kept off every other platform's start-up

    try:
        doc = plistlib.loads(chunk.strip(b"\0\r\n\t "))
    except Exception as exc:  # noqa: BLE001 - plistlib raises several types
        raise ProbeError(
            f"powermetrics: unreadable plist sample ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(doc, dict):
        raise ProbeError("powermetrics: a sample is not a plist dictionary")
    elapsed_ns = doc.get("elapsed_ns")
    proc = doc.get("processor")
    if not isinstance(elapsed_ns, int) or elapsed_ns <= 0 or not isinstance(proc, dict):
        raise ProbeError("powermetrics: a sample lacks elapsed_ns or the processor dictionary")
    elapsed_s = elapsed_ns / 1e9
    gpu = doc.get("gpu") if isinstance(doc.get("gpu"), dict) else {}

    def mj(key: str, power_key: str, *more: Mapping[str, Any]) -> float:
        for d in (proc, *more):
            value = d.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        value = proc.get(power_key)  # mW over the interval
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * elapsed_s
        return 0.0

    out = {
        "cpu": mj("cpu_energy", "cpu_power"),
        "gpu": mj("gpu_energy", "gpu_power", gpu),
        "ane": mj("ane_energy", "ane_power"),
        "elapsed_s": elapsed_s,
    }
    combined = proc.get("combined_power")
    if isinstance(combined, (int, float)) and not isinstance(combined, bool):
        out["package"] = float(combined) * elapsed_s
    else:
        out["package"] = out["cpu"] + out["gpu"] + out["ane"]
    return out


class PowermetricsSession:
    """Parses a powermetrics plist stream and keeps cumulative mJ per channel."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buffer = b""
        self.total_mj = dict.fromkeys(CHANNELS, 0.0)
        self.power_mw = dict.fromkeys(CHANNELS, 0.0)
        self.reported_mj = dict.fromkeys(CHANNELS, 0.0)
        self.samples = 0
        self.arrived_at: float | None = None
        self.error: str | None = None
        self.hw_model: str | None = None

    def feed(self, data: bytes) -> None:
        """Take bytes of the stream; every complete (NUL-terminated) sample is folded in."""
        with self._lock:
            self._buffer += data
            *chunks, self._buffer = self._buffer.split(b"\0")
            if self._buffer.rstrip().endswith(b"</plist>"):
                # a complete sample whose separator comes with the next one: take it now
                chunks.append(self._buffer)
                self._buffer = b""
        for chunk in chunks:
            if chunk.strip():
                self._add(parse_sample(chunk))

    def end(self, reason: str) -> None:
        """The stream ended: the last sample (without a trailing NUL) counts, then fail."""
        rest, self._buffer = self._buffer, b""
        if rest.strip():
            with contextlib.suppress(ProbeError):  # a sample cut short by the exit
                self._add(parse_sample(rest))
        with self._lock:
            self.error = reason

    def _add(self, sample: dict[str, float]) -> None:
        with self._lock:
            for ch in CHANNELS:
                self.total_mj[ch] += sample[ch]
                self.power_mw[ch] = sample[ch] / sample["elapsed_s"]
            self.samples += 1
            self.arrived_at = self._clock()

    def energy_j(self, channel: str) -> float:
        """Return cumulative J, extended at the last power since the last sample, monotone."""
        with self._lock:
            if self.error is not None:
                raise ProbeError(self.error)
            value = self.total_mj[channel]
            if self.arrived_at is not None:
                value += self.power_mw[channel] * max(self._clock() - self.arrived_at, 0.0)
            value = max(value, self.reported_mj[channel])
            self.reported_mj[channel] = value
            return value / 1000.0


class ApplePowerProbe:
    """One powermetrics channel as a cumulative energy counter (J)."""

    method = Method.COUNTER
    wrap_j = None  # per-interval energies summed by greenai: nothing wraps
    max_power_w = None

    def __init__(
        self,
        session: PowermetricsSession,
        channel: str,
        info: dict[str, Any],
        closer: Callable[[], None],
    ):
        self.id = f"apple:{channel}"
        self.channel = channel
        self.domain, self.counts_in_total, key = CHANNELS[channel]
        self._session = session
        self._info = {**info, "reading": f"powermetrics {key} per interval, summed"}
        if channel == "package":
            self._info["contains"] = "apple:cpu, apple:gpu, apple:ane"
            self._info["reading"] = "powermetrics combined_power (mW) x elapsed_ns, summed"
        else:
            self._info["contained_in"] = "apple:package"
        if channel == "ane":
            self._info["accelerator"] = "Apple Neural Engine (counted in the gpu domain)"
        self._closer = closer

    def read(self) -> float:
        return self._session.energy_j(self.channel)

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def close(self) -> None:
        self._closer()


def start_powermetrics(argv: list[str], session: PowermetricsSession) -> Callable[[], None]:
    """Start powermetrics, feed its stdout into the session on a thread; return a stopper."""
    import subprocess

    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise ProbeError(f"powermetrics: cannot run {argv[0]}: {exc.strerror}") from None

    def pump() -> None:
        assert proc.stdout is not None
        while True:
            data = (
                proc.stdout.read1(65536)
                if hasattr(proc.stdout, "read1")
                else proc.stdout.read(4096)
            )
            if not data:
                break
            try:
                session.feed(data)
            except ProbeError as exc:
                session.end(str(exc))
                proc.kill()
                return
        code = proc.wait()
        err = (
            (proc.stderr.read().decode(errors="replace").strip().splitlines() or [""])[-1]
            if proc.stderr
            else ""
        )
        session.end(f"powermetrics exited (code {code}){': ' + err[:160] if err else ''}")

    threading.Thread(target=pump, name="greenai-powermetrics", daemon=True).start()
    stopped = [False]

    def stop() -> None:
        if not stopped[0]:
            stopped[0] = True
            if proc.poll() is None:
                proc.terminate()

    import atexit

    atexit.register(stop)  # powermetrics (root) must not outlive greenai
    return stop


def discover(env: Mapping[str, str] | None = None, wait_s: float = 3.0) -> Discovery:
    """Return the powermetrics probes (and the IOReport reason), or why there are none."""
    from greenai.probes import ioreport

    env = os.environ if env is None else env
    found = ioreport.discover(env)
    command = env.get(ENV_POWERMETRICS)
    if sys.platform != "darwin" and not command:
        found.unavailable.append(ProbeUnavailable("powermetrics", "not macOS (Apple silicon only)"))
        return found
    if found.probes:
        found.unavailable.append(
            ProbeUnavailable(
                "powermetrics",
                "IOReport already reads the same energy counters (powermetrics reads IOReport)",
            )
        )
        return found
    if not command:
        if os.geteuid() != 0:
            found.unavailable.append(
                ProbeUnavailable(
                    "powermetrics", "powermetrics needs root and greenai is not root", ROOT_REMEDY
                )
            )
            return found
        command = "/usr/bin/powermetrics"
    try:
        interval_ms = int(env.get(ENV_INTERVAL_MS, DEFAULT_INTERVAL_MS))
    except ValueError:
        interval_ms = DEFAULT_INTERVAL_MS
    argv = [
        *command.split(),
        "--samplers",
        "cpu_power,gpu_power",
        "-f",
        "plist",
        "-i",
        str(interval_ms),
    ]
    session = PowermetricsSession()
    try:
        stop = start_powermetrics(argv, session)
    except ProbeError as exc:
        found.unavailable.append(ProbeUnavailable("powermetrics", str(exc), ROOT_REMEDY))
        return found
    deadline = time.monotonic() + wait_s
    while session.samples == 0 and session.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if session.samples == 0:
        stop()
        reason = session.error or f"powermetrics gave no sample within {wait_s:g} s"
        found.unavailable.append(ProbeUnavailable("powermetrics", reason, ROOT_REMEDY))
        return found
    info = {
        "source": "powermetrics",
        "name": "Apple silicon",
        "interval_ms": interval_ms,
        "boundary": "SoC: CPU clusters, GPU, ANE (package = their sum)",
    }
    for channel in CHANNELS:
        found.probes.append(ApplePowerProbe(session, channel, info, stop))
    return found
