"""Node wall power from the BMC: Redfish and IPMI DCMI.

What the facility pays for is the node's wall power: CPUs, GPUs and memory, plus fans,
PSU conversion losses, NICs, drives and the BMC itself. A BMC reports it as power (W)
about once a second; greenai polls it on its own thread (``GREENAI_WALL_PERIOD_S``,
default 1 s) so a slow BMC never delays the other probes, and the sampler integrates the
latest reading. The wall contains every component, so it never adds to the total: the
disclosure shows it beside the component sum, and the difference as unmetered energy.

Redfish (``GREENAI_REDFISH_URL``): the chassis' newer ``EnvironmentMetrics``
(``PowerWatts.Reading``), else the older ``Power`` resource
(``PowerControl[0].PowerConsumedWatts``). IPMI: ``ipmitool dcmi power reading`` (or
freeipmi's ``ipmi-dcmi --get-system-power-statistics``), in band through /dev/ipmi0 or
over the LAN with ``GREENAI_IPMI_HOST``. Credentials come from the environment or a file
and are never written to a log, an error, a result or a command line (ipmitool reads
the password from its ``IPMI_PASSWORD`` environment variable, ``-E``).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from greenai.errors import ProbeError
from greenai.probes.base import Discovery, Method, ProbeUnavailable

ENV_PERIOD = "GREENAI_WALL_PERIOD_S"
ENV_REDFISH_URL = "GREENAI_REDFISH_URL"
ENV_REDFISH_USER = "GREENAI_REDFISH_USER"
ENV_REDFISH_PASSWORD = "GREENAI_REDFISH_PASSWORD"
ENV_REDFISH_CREDENTIALS = "GREENAI_REDFISH_CREDENTIALS"  # file: "user:password" or JSON
ENV_REDFISH_VERIFY = "GREENAI_REDFISH_VERIFY"  # 0: accept a BMC's self-signed certificate
ENV_IPMI = "GREENAI_IPMI"  # auto (default) | off
ENV_IPMI_HOST = "GREENAI_IPMI_HOST"
ENV_IPMI_USER = "GREENAI_IPMI_USER"
ENV_IPMI_PASSWORD = "GREENAI_IPMI_PASSWORD"
ENV_IPMI_PASSWORD_FILE = "GREENAI_IPMI_PASSWORD_FILE"
ENV_IPMITOOL = "GREENAI_IPMITOOL"  # path of ipmitool (or ipmi-dcmi)
ENV_IPMI_PORT = "GREENAI_IPMI_PORT"  # RMCP port (default 623)
ENV_IPMI_CIPHER = "GREENAI_IPMI_CIPHER"  # lanplus cipher suite (ipmitool's -C), e.g. 3
DEFAULT_PERIOD_S = 1.0
MAX_FAILURES = 3  # consecutive failed polls before the probe counts as lost
STALE_PERIODS, STALE_MIN_S = 10, 30.0  # a reading older than both is stale
UNMETERED = "unmetered: fans, PSU losses, NICs, drives, BMC"
WALL_BOUNDARY = "node wall (AC input of the node's power supplies, as the BMC meters it)"
_IPMI_DEVICES = ("/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0")
# Chassis types that are a whole node (not a card, a module or a GPU baseboard)
_NODE_CHASSIS = ("RackMount", "StandAlone", "Blade", "Sled", "Enclosure", "Rack", "Shelf")


class PolledPowerProbe:
    """A slow power source polled on its own thread; read() returns the latest watts."""

    domain = "system"
    method = Method.POWER
    counts_in_total = False  # the wall contains every component: compared, never added
    wrap_j = None
    max_power_w = None

    def __init__(
        self,
        id: str,
        fetch: Callable[[], Any],  # W; or (J, W or None) for an energy counter
        info: dict[str, Any],
        period_s: float = DEFAULT_PERIOD_S,
        clock: Callable[[], float] = time.monotonic,
        energy: bool = False,
    ):
        self.id = id
        # energy: fetch() returns a cumulative J counter (Redfish EnergyJoules), read as a
        # COUNTER extended at the last polled rate between polls and never going back
        self.method = Method.COUNTER if energy else Method.POWER
        self._rate_w = 0.0
        self._reported = 0.0
        self._fetch = fetch
        self._info = info
        self.period_s = period_s
        self._clock = clock
        self._value: float | None = None
        self._failures = 0
        self._error = ""
        self._polled_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.poll()
        if self._value is None:
            raise ProbeError(self._error)

    def poll(self) -> None:
        """Fetch one reading now (the thread calls this every period)."""
        try:
            got = self._fetch()
            power = None
            if isinstance(got, tuple):  # (energy J, power W or None) from an energy source
                got, power = got
            value = float(got)
        except Exception as exc:  # noqa: BLE001 - the polling thread must never die silently
            with self._lock:
                self._failures += 1
                self._error = str(exc) if isinstance(exc, ProbeError) else repr(exc)
            return
        with self._lock:
            now = self._clock()
            if self.method is Method.COUNTER:
                if power is not None:
                    self._rate_w = float(power)  # the BMC's own power reading
                elif (
                    self._value is not None
                    and self._polled_at is not None
                    and now > self._polled_at
                    and value >= self._value
                ):
                    self._rate_w = (value - self._value) / (now - self._polled_at)
                if self._value is not None and value < self._value:  # counter restarted
                    self._reported = 0.0
            self._value = value
            self._failures = 0
            self._polled_at = now

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.poll()

    def start(self) -> None:
        """Start the polling thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name=f"greenai-{self.id}", daemon=True
            )
            self._thread.start()

    def read(self) -> float:
        """Return the latest wall power (W); raise once the BMC has failed repeatedly."""
        self.start()
        with self._lock:
            if self._failures >= MAX_FAILURES:
                raise ProbeError(
                    f"{self.id}: {self._failures} polls failed in a row: {self._error}"
                )
            assert self._value is not None and self._polled_at is not None
            age = self._clock() - self._polled_at
            if age > max(STALE_PERIODS * self.period_s, STALE_MIN_S):
                raise ProbeError(f"{self.id}: no reading for {age:.0f} s (the poller stalled)")
            if self.method is Method.POWER:
                return self._value
            self._reported = max(self._reported, self._value + self._rate_w * age)
            return self._reported

    def info(self) -> dict[str, Any]:
        """Return the source, what it measures, and how often it is polled."""
        return {
            **self._info,
            "boundary": WALL_BOUNDARY,
            "contains": "*",
            "poll_period_s": self.period_s,
        }

    def close(self) -> None:
        """Stop polling."""
        self._stop.set()


def _period(env: Mapping[str, str]) -> float:
    raw = env.get(ENV_PERIOD)
    if not raw:
        return DEFAULT_PERIOD_S
    try:
        value = float(raw)
    except ValueError:
        raise ProbeError(f"{ENV_PERIOD}={raw!r}: not a number of seconds") from None
    if not 0.05 <= value <= 60:
        raise ProbeError(f"{ENV_PERIOD}={raw!r}: must be between 0.05 and 60 s")
    return value


# --------------------------------------------------------------------- Redfish
def read_credentials(path: str) -> tuple[str, str]:
    """Return (user, password) from a file: one line "user:password", or JSON."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    except OSError as exc:
        raise ProbeError(f"{path}: cannot read the credentials file: {exc.strerror}") from exc
    if text.startswith("{"):
        from greenai import jsonio

        try:
            doc = jsonio.loads(text, path)
        except Exception as exc:  # noqa: BLE001 - never echo the file's content
            raise ProbeError(f"{path}: not valid JSON ({type(exc).__name__})") from None
        user, password = doc.get("username"), doc.get("password") if isinstance(doc, dict) else None
        if not isinstance(user, str) or not isinstance(password, str):
            raise ProbeError(f'{path}: needs string fields "username" and "password"')
        return user, password
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise ProbeError(f"{path}: expected one line 'user:password' or a JSON object")
    return user, password


class RedfishClient:
    """GET JSON from a Redfish service with HTTP basic auth; errors never carry secrets."""

    def __init__(
        self,
        base_url: str,
        credentials: tuple[str, str] | None = None,
        timeout_s: float = 3.0,
        verify_tls: bool = True,
    ):
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeError(f"{ENV_REDFISH_URL}: not an http(s) URL: {_redact_url(base_url)}")
        if parts.username or parts.password:
            raise ProbeError(
                f"{ENV_REDFISH_URL}: put credentials in {ENV_REDFISH_USER}/"
                f"{ENV_REDFISH_PASSWORD} or {ENV_REDFISH_CREDENTIALS}, not in the URL"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._auth = None
        if credentials is not None:
            import base64

            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            self._auth = f"Basic {token}"
        self._context = None
        if parts.scheme == "https" and not verify_tls:
            import ssl

            self._context = ssl._create_unverified_context()  # noqa: S323 - opt-in for BMCs

    def get(self, path: str) -> dict[str, Any]:
        """Return the JSON object at ``path`` (an @odata.id or a path under the base URL)."""
        import urllib.error
        import urllib.request

        from greenai import jsonio

        url = self.base_url + path if path.startswith("/") else f"{self.base_url}/{path}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._auth:
            request.add_header("Authorization", self._auth)
        where = f"Redfish {url}"
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout_s, context=self._context
            ) as resp:
                body = resp.read(4_000_000)
        except urllib.error.HTTPError as exc:
            hint = " (check the Redfish credentials)" if exc.code in (401, 403) else ""
            raise ProbeError(f"{where}: HTTP {exc.code} {exc.reason}{hint}") from None
        except urllib.error.URLError as exc:
            raise ProbeError(f"{where}: unreachable: {exc.reason}") from None
        except OSError as exc:
            raise ProbeError(f"{where}: {exc.strerror or type(exc).__name__}") from None
        try:
            doc = jsonio.loads(body.decode("utf-8"), where)
        except Exception as exc:  # noqa: BLE001
            raise ProbeError(f"{where}: not a JSON document: {exc}") from None
        if not isinstance(doc, dict):
            raise ProbeError(f"{where}: expected a JSON object")
        return doc


def _redact_url(url: str) -> str:
    return re.sub(r"//[^/@]*@", "//***@", url)


def _odata(doc: Mapping[str, Any], key: str) -> str | None:
    ref = doc.get(key)
    if isinstance(ref, dict) and isinstance(ref.get("@odata.id"), str):
        return ref["@odata.id"]
    return None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProbeError(f"{where}: no reading (got {value!r})")
    if value < 0:
        raise ProbeError(f"{where}: negative power {value!r}")
    return float(value)


def redfish_power_reader(
    client: RedfishClient, chassis: dict[str, Any]
) -> tuple[Callable[[], Any], str]:
    """Return (fetch, resource) reading the chassis' power (W), or its energy (J).

    Order: ``EnvironmentMetrics.EnergyJoules`` (a counter: resource ends in "(J)"), then
    ``EnvironmentMetrics.PowerWatts``, a chassis power sensor, the older ``Power``.
    """
    env_path = _odata(chassis, "EnvironmentMetrics")
    if env_path:

        def fetch_energy() -> tuple[float, float | None]:
            doc = client.get(env_path)
            reading = doc.get("EnergyJoules")
            value = reading.get("Reading") if isinstance(reading, dict) else None
            energy = _number(value, f"Redfish {env_path} EnergyJoules.Reading")
            watts = doc.get("PowerWatts")
            power = watts.get("Reading") if isinstance(watts, dict) else None
            ok = isinstance(power, (int, float)) and not isinstance(power, bool) and power >= 0
            return energy, float(power) if ok else None

        try:
            fetch_energy()
            return fetch_energy, f"{env_path} EnergyJoules.Reading (J)"
        except ProbeError:
            pass  # most BMCs publish power only

        def fetch_env() -> float:
            doc = client.get(env_path)
            reading = doc.get("PowerWatts")
            value = reading.get("Reading") if isinstance(reading, dict) else None
            return _number(value, f"Redfish {env_path} PowerWatts.Reading")

        try:
            fetch_env()
            return fetch_env, f"{env_path} PowerWatts.Reading"
        except ProbeError:
            pass  # some BMCs publish EnvironmentMetrics without PowerWatts: try Sensors
    sensors_path = _odata(chassis, "Sensors")
    if sensors_path:
        sensor_path = _chassis_power_sensor(client, sensors_path)
        if sensor_path:

            def fetch_sensor() -> float:
                doc = client.get(sensor_path)
                return _number(doc.get("Reading"), f"Redfish {sensor_path} Reading")

            fetch_sensor()
            return fetch_sensor, f"{sensor_path} Reading (ReadingType Power, Chassis)"
    power_path = _odata(chassis, "Power")
    if not power_path:
        raise ProbeError(
            f"Redfish chassis {chassis.get('Id')}: no EnvironmentMetrics.PowerWatts, "
            "no chassis power sensor and no Power resource"
        )

    def fetch_power() -> float:
        doc = client.get(power_path)
        controls = doc.get("PowerControl")
        if not isinstance(controls, list) or not controls or not isinstance(controls[0], dict):
            raise ProbeError(f"Redfish {power_path}: no PowerControl entry")
        return _number(
            controls[0].get("PowerConsumedWatts"),
            f"Redfish {power_path} PowerControl[0].PowerConsumedWatts",
        )

    fetch_power()
    return fetch_power, f"{power_path} PowerControl[0].PowerConsumedWatts"


def _chassis_power_sensor(client: RedfishClient, sensors_path: str) -> str | None:
    """Return the @odata.id of the chassis' total power sensor in a Sensors collection."""
    members = client.get(sensors_path).get("Members")
    if not isinstance(members, list):
        return None
    for m in members:
        path = m.get("@odata.id") if isinstance(m, dict) else None
        if not isinstance(path, str):
            continue
        sensor = client.get(path)
        # a power sensor of the whole chassis, not one PSU, CPU or GPU
        if sensor.get("ReadingType") == "Power" and sensor.get("PhysicalContext") == "Chassis":
            return path
    return None


def _redfish_credentials(env: Mapping[str, str]) -> tuple[tuple[str, str] | None, str]:
    path = env.get(ENV_REDFISH_CREDENTIALS)
    if path:
        return read_credentials(path), f"from the file {ENV_REDFISH_CREDENTIALS}"
    user = env.get(ENV_REDFISH_USER)
    if user:
        return (
            user,
            env.get(ENV_REDFISH_PASSWORD, ""),
        ), f"from {ENV_REDFISH_USER}/{ENV_REDFISH_PASSWORD}"
    return None, "none"


def discover_redfish(
    env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic
) -> Discovery:
    """Return the node's Redfish wall-power probe, or why there is none."""
    env = os.environ if env is None else env
    found = Discovery()
    url = env.get(ENV_REDFISH_URL)
    if not url:
        found.unavailable.append(
            ProbeUnavailable(
                "redfish",
                f"{ENV_REDFISH_URL} is not set (node wall power from the BMC is opt-in)",
                f"Set {ENV_REDFISH_URL}=https://<bmc> and credentials in "
                f"{ENV_REDFISH_CREDENTIALS}.",
            )
        )
        return found
    try:
        credentials, how = _redfish_credentials(env)
        client = RedfishClient(url, credentials, verify_tls=env.get(ENV_REDFISH_VERIFY, "1") != "0")
        root = client.get("/redfish/v1/")
        chassis_path = _odata(root, "Chassis")
        if not chassis_path:
            raise ProbeError(f"Redfish {client.base_url}/redfish/v1/: no Chassis collection")
        members = client.get(chassis_path).get("Members")
        if not isinstance(members, list) or not members:
            raise ProbeError(f"Redfish {chassis_path}: no chassis")
        errors: list[str] = []
        chassis_docs = []
        for m in members:
            if isinstance(m, dict) and isinstance(m.get("@odata.id"), str):
                try:
                    chassis_docs.append(client.get(m["@odata.id"]))
                except ProbeError as exc:  # one broken member must not hide the others
                    errors.append(str(exc))
        chassis_docs.sort(key=lambda c: c.get("ChassisType") not in _NODE_CHASSIS)
        for chassis in chassis_docs:
            try:
                fetch, resource = redfish_power_reader(client, chassis)
            except ProbeError as exc:
                errors.append(str(exc))
                continue
            info = {
                "source": "redfish",
                "name": " ".join(
                    str(v) for v in (chassis.get("Manufacturer"), chassis.get("Model")) if v
                )
                or str(chassis.get("Id")),
                "url": client.base_url,
                "chassis": chassis.get("Id"),
                "chassis_type": chassis.get("ChassisType"),
                "credentials": how,
            }
            energy = resource.endswith("(J)")
            info["reading"] = (
                f"{resource}, a counter polled and extended between polls"
                if energy
                else f"{resource} (W), polled and integrated"
            )
            found.probes.append(
                PolledPowerProbe(
                    f"redfish:{chassis.get('Id')}", fetch, info, _period(env), clock, energy
                )
            )
            return found
        raise ProbeError("; ".join(errors) or "no chassis with a power reading")
    except ProbeError as exc:
        found.unavailable.append(
            ProbeUnavailable("redfish", str(exc), "Check the BMC URL and credentials.")
        )
    return found


# --------------------------------------------------------------------- IPMI DCMI
# patterns, compiled (and kept by re) on the first reading: not on every start-up
_IPMITOOL_RE = r"Instantaneous power reading:\s*(\d+(?:\.\d+)?)\s*Watts"
_IPMITOOL_STATE_RE = r"Power reading state is:\s*(\w+)"
_FREEIPMI_RE = r"Current Power\s*:\s*(\d+(?:\.\d+)?)\s*Watts"
_FREEIPMI_STATE_RE = r"Power Measurement\s*:\s*(\w+)"


def parse_dcmi(text: str, tool: str = "ipmitool") -> float:
    """Return the instantaneous power (W) of an ipmitool or ipmi-dcmi power reading."""
    value_re, state_re = (
        (_FREEIPMI_RE, _FREEIPMI_STATE_RE)
        if tool == "ipmi-dcmi"
        else (_IPMITOOL_RE, _IPMITOOL_STATE_RE)
    )
    state = re.search(state_re, text, re.I)
    if state and state.group(1).lower() not in ("activated", "active"):
        raise ProbeError(f"{tool}: DCMI power reading is {state.group(1)} on this BMC")
    m = re.search(value_re, text, re.I)
    if not m:
        first = text.strip().splitlines()[0] if text.strip() else "no output"
        raise ProbeError(f"{tool}: no power reading in its output ({first[:120]})")
    return float(m.group(1))


def _ipmi_command(env: Mapping[str, str]) -> tuple[list[str], dict[str, str], str, str]:
    """Return (argv, extra env, tool name, how it reaches the BMC); argv holds no secret."""
    tool_path = env.get(ENV_IPMITOOL) or shutil.which("ipmitool") or shutil.which("ipmi-dcmi")
    if not tool_path:
        raise ProbeError("neither ipmitool nor freeipmi's ipmi-dcmi is installed")
    tool = "ipmi-dcmi" if os.path.basename(tool_path).startswith("ipmi-dcmi") else "ipmitool"
    host = env.get(ENV_IPMI_HOST)
    extra: dict[str, str] = {}
    if host:
        user = env.get(ENV_IPMI_USER, "")
        password = env.get(ENV_IPMI_PASSWORD)
        password_file = env.get(ENV_IPMI_PASSWORD_FILE)
        if tool == "ipmitool":
            argv = [tool_path, "-I", "lanplus", "-H", host, "-U", user]
            if env.get(ENV_IPMI_PORT):
                argv += ["-p", env[ENV_IPMI_PORT]]
            if env.get(ENV_IPMI_CIPHER):
                argv += ["-C", env[ENV_IPMI_CIPHER]]
            if password_file:
                argv += ["-f", password_file]
            elif password is not None:
                argv += ["-E"]
                extra["IPMI_PASSWORD"] = password
            argv += ["dcmi", "power", "reading"]
        else:
            argv = [tool_path, "-h", host, "-u", user]
            if env.get(ENV_IPMI_PORT):
                argv += [f"--driver-address={env[ENV_IPMI_PORT]}"]
            if password_file:
                argv += ["--config-file", password_file]
            argv += ["--get-system-power-statistics"]
            if password is not None and not password_file:
                raise ProbeError(
                    f"ipmi-dcmi takes the password from a file: set {ENV_IPMI_PASSWORD_FILE}"
                )
        return argv, extra, tool, f"LAN ({host})"
    if not any(os.path.exists(p) for p in _IPMI_DEVICES):
        raise ProbeError(
            "no in-band IPMI device (/dev/ipmi0: ipmi_si/ipmi_devintf not loaded, or no BMC) "
            f"and {ENV_IPMI_HOST} is not set"
        )
    argv = (
        [tool_path, "dcmi", "power", "reading"]
        if tool == "ipmitool"
        else [tool_path, "--get-system-power-statistics"]
    )
    return argv, extra, tool, "in band (/dev/ipmi0)"


def ipmi_reader(
    argv: list[str], extra_env: dict[str, str], tool: str, timeout_s: float = 5.0
) -> Callable[[], float]:
    """Return a fetch() running the DCMI power reading command once."""
    import subprocess  # only where an IPMI tool is found: off every other start-up

    child_env = {**os.environ, **extra_env}

    def fetch() -> float:
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout_s, env=child_env, check=False
            )
        except subprocess.TimeoutExpired:
            raise ProbeError(f"{tool}: no answer from the BMC within {timeout_s:g} s") from None
        except OSError as exc:
            raise ProbeError(f"{tool}: cannot run: {exc.strerror}") from None
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()
            raise ProbeError(
                f"{tool}: exit code {done.returncode}: {last[-1][:160] if last else 'no output'}"
            )
        return parse_dcmi(done.stdout, tool)

    return fetch


def discover_ipmi(env: Mapping[str, str] | None = None) -> Discovery:
    """Return the node's IPMI DCMI wall-power probe, or why there is none."""
    env = os.environ if env is None else env
    found = Discovery()
    if env.get(ENV_IPMI, "auto").lower() == "off":
        found.unavailable.append(ProbeUnavailable("ipmi", f"{ENV_IPMI}=off"))
        return found
    try:
        argv, extra, tool, how = _ipmi_command(env)
        fetch = ipmi_reader(argv, extra, tool)
        info = {
            "source": "ipmi-dcmi",
            "name": f"{tool} DCMI power reading",
            "tool": tool,
            "access": how,
            "reading": "DCMI Get Power Reading, instantaneous (W), polled and integrated",
        }
        found.probes.append(PolledPowerProbe("ipmi:dcmi", fetch, info, _period(env)))
    except ProbeError as exc:
        found.unavailable.append(
            ProbeUnavailable(
                "ipmi",
                str(exc),
                f"Load ipmi_si and ipmi_devintf (in band), or set {ENV_IPMI_HOST}, "
                f"{ENV_IPMI_USER} and {ENV_IPMI_PASSWORD_FILE}.",
            )
        )
    return found


def discover(env: Mapping[str, str] | None = None) -> Discovery:
    """Return the wall probes: Redfish first; IPMI only when Redfish gives none."""
    found = discover_redfish(env)
    ipmi = discover_ipmi(env)
    if found.probes and ipmi.probes:
        for p in ipmi.probes:
            p.close()
        found.unavailable.append(
            ProbeUnavailable(
                "ipmi", "the same BMC is already read over Redfish; one wall reading is enough"
            )
        )
        return found
    found.extend(ipmi)
    return found


# --------------------------------------------------------------------- disclosure
def wall_comparison(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return, per wall probe of a disclosure, wall energy, component sum and the difference.

    ``doc`` is a measurement document (``Measurement.to_dict()``): the component sum is
    its total (the counted, non-overlapping probes), with that total's provenance.
    """
    out = []
    devices = doc.get("devices")
    total = doc.get("energy_j")
    if (
        not isinstance(devices, list)
        or isinstance(total, bool)
        or not isinstance(total, (int, float))
    ):
        return out
    for d in devices:
        if not isinstance(d, dict):
            continue
        info = d.get("info") if isinstance(d.get("info"), dict) else {}
        if info.get("contains") != "*":
            continue
        wall = d.get("energy_j")
        if isinstance(wall, bool) or not isinstance(wall, (int, float)):
            wall = None
        row: dict[str, Any] = {
            "probe": str(d.get("id")),
            "wall_j": wall,
            "components_j": float(total),
            "components_provenance": doc.get("provenance"),
            "unmetered_j": None,
            "unmetered_share": None,
            "complete": d.get("status") == "ok",
            "note": UNMETERED
            if doc.get("provenance") == "measured"
            else f"{UNMETERED}; the component sum is {doc.get('provenance')}, so the "
            "difference also holds its modelling error",
        }
        if wall is not None and d.get("status") == "ok":
            row["unmetered_j"] = wall - float(total)
            row["unmetered_share"] = (wall - float(total)) / wall if wall > 0 else None
        out.append(row)
    return out
