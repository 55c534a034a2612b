"""Node wall power: Redfish against a mockup served on 127.0.0.1, IPMI DCMI output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenai.meter import Meter
from greenai.probes import wall
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant
from tests.fakes.redfish import FakeRedfish

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Pa55word"


def _env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    cred = tmp_path / "bmc.cred"
    cred.write_text(f"admin:{SECRET}\n")
    os.chmod(cred, 0o600)
    return {
        wall.ENV_REDFISH_URL: url,
        wall.ENV_REDFISH_CREDENTIALS: str(cred),
        wall.ENV_PERIOD: "60",  # tests poll by hand
        wall.ENV_IPMI: "off",
        **extra,
    }


@pytest.mark.parametrize("layout", ["power", "environment_metrics", "sensors"])
def test_redfish_450_w_for_10_s_is_4_5_kj(tmp_path, clock: FakeClock, layout):
    fake = FakeRedfish(
        450.0,
        ("admin", SECRET),
        environment_metrics=layout == "environment_metrics",
        sensors_only=layout == "sensors",
    )
    with fake as bmc:
        found = wall.discover(_env(bmc.url, tmp_path))
        (probe,) = found.probes
        assert probe.id == "redfish:1U"  # the node chassis, not the GPU baseboard module
        assert probe.domain == "system" and not probe.counts_in_total
        assert probe.method.provenance == "measured"
        resource = {
            "power": "Power PowerControl[0].PowerConsumedWatts",
            "environment_metrics": "EnvironmentMetrics PowerWatts.Reading",
            "sensors": "Sensors/TotalPower Reading",
        }[layout]
        assert resource in probe.info()["reading"]
        cpu = ClockProbe("fake:cpu", clock, constant(200.0))
        sampler = Sampler([probe, cpu], interval_s=0.1, clock=clock)
        m = Meter("t", "run", sampler=sampler).start()
        for i in range(100):  # 10 s, the BMC polled once a second as the thread does
            clock.advance(0.1)
            if i % 10 == 9:
                probe.poll()
            sampler.sample()
        result = m.stop()
        probe.close()
    assert result.by_device["redfish:1U"] == pytest.approx(4500.0, rel=0.01)
    assert result.energy_j == pytest.approx(2000.0)  # the wall is compared, not added
    (row,) = wall.wall_comparison(result.to_dict())
    assert row["wall_j"] == pytest.approx(4500.0, rel=0.01)
    assert row["unmetered_j"] == pytest.approx(2500.0, rel=0.01)
    assert row["unmetered_share"] == pytest.approx(2500 / 4500, rel=0.01)
    assert all(auth and auth.startswith("Basic ") for _, auth in bmc.requests)
    # the disclosure shows the wall beside the components, and the unmetered share
    from greenai.report.html import to_html
    from greenai.report.markdown import to_markdown
    from greenai.report.text import summary

    doc = result.to_dict()
    md, page, text = to_markdown(doc), to_html(doc), summary(result)
    for rendered in (md, page, text):
        assert "55.6%" in rendered and "unmetered: fans, PSU losses, NICs" in rendered
    assert "node wall: contains every component; compared, not added" in md
    assert "node wall (AC input" in md  # the boundary column


def test_redfish_energy_joules_counter_450_w_for_10_s(tmp_path, clock: FakeClock):
    with FakeRedfish(450.0, energy_joules=True, clock=clock) as bmc:
        env = _env(bmc.url, tmp_path)
        del env[wall.ENV_REDFISH_CREDENTIALS]
        (probe,) = wall.discover_redfish(env, clock=clock).probes
        assert probe.method.value == "counter" and "EnergyJoules" in probe.info()["reading"]
        sampler = Sampler([probe], interval_s=0.1, clock=clock)
        clock.advance(0.35)  # the window opens between two polls
        m = Meter(sampler=sampler).start()
        for i in range(100):
            clock.advance(0.1)
            if i % 10 == 6:
                probe.poll()
            sampler.sample()
        result = m.stop()
        truth = bmc.energy_now()
        probe.close()
    assert truth == pytest.approx(450 * 10.35)
    # integer joules polled each second, extended at the BMC's power between polls
    assert result.by_device["redfish:1U"] == pytest.approx(4500.0, rel=0.01)
    assert not result.gaps


def test_power_change_is_followed_and_lost_bmc_fails_the_probe(tmp_path, clock: FakeClock):
    with FakeRedfish(300.0) as bmc:
        env = _env(bmc.url, tmp_path)
        del env[wall.ENV_REDFISH_CREDENTIALS]
        (probe,) = wall.discover(env).probes
        sampler = Sampler([probe], interval_s=0.1, clock=clock)
        m = Meter(sampler=sampler).start()
        for _ in range(50):
            clock.advance(0.1)
            sampler.sample()
        bmc.watts = 600.0
        probe.poll()
        for _ in range(50):
            clock.advance(0.1)
            sampler.sample()
        bmc.down = True  # the BMC resets mid-run
        for _ in range(wall.MAX_FAILURES):
            probe.poll()
        with pytest.warns(Warning, match="HTTP 503"):
            for _ in range(10):
                clock.advance(0.1)
                sampler.sample()
        result = m.stop()
        probe.close()
    # 5 s at 300 W, the step to 600 W seen within one sample, 5 s at 600 W
    assert result.by_device["redfish:1U"] == pytest.approx(300 * 5 + 600 * 5, rel=0.01)
    (dev,) = result.devices
    assert dev.status == "failed" and "503" in (dev.error or "")


def test_credentials_never_reach_errors_results_or_logs(tmp_path, caplog):
    with FakeRedfish(450.0, ("admin", "other-password")) as bmc:
        found = wall.discover(_env(bmc.url, tmp_path))
    assert not found.probes
    (reason,) = [u for u in found.unavailable if u.probe == "redfish"]
    assert "401" in reason.reason and "credentials" in reason.reason
    assert SECRET not in json.dumps([u.to_dict() for u in found.unavailable])
    assert SECRET not in caplog.text
    with pytest.raises(Exception, match="not in the URL"):
        wall.RedfishClient(f"http://admin:{SECRET}@127.0.0.1:1")
    try:
        wall.RedfishClient(f"http://admin:{SECRET}@127.0.0.1:1")
    except Exception as exc:  # noqa: BLE001
        assert SECRET not in str(exc)


def test_greenai_run_with_redfish_end_to_end(tmp_path: Path):
    """A real run: the poller thread, the CLI, the disclosure; the secret appears nowhere."""
    with FakeRedfish(450.0, ("admin", SECRET)) as bmc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GREENAI_")}
        env.update(_env(bmc.url, tmp_path, GREENAI_WALL_PERIOD_S="0.1"))
        env["GREENAI_POWERCAP_ROOT"] = str(tmp_path / "none")
        env["PYTHONPATH"] = str(REPO)
        out = tmp_path / "run.json"
        cmd = [sys.executable, "-m", "greenai", "run", "-o", str(out), "--"]
        done = subprocess.run(
            [*cmd, sys.executable, "-c", "import time; time.sleep(1.0)"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        probe_out = subprocess.run(
            [sys.executable, "-m", "greenai", "probe"], capture_output=True, text=True, env=env
        )
        md = subprocess.run(
            [
                sys.executable,
                "-m",
                "greenai",
                "report",
                str(out),
                "--format",
                "md",
                "-o",
                str(tmp_path / "r.md"),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
    doc = json.loads(out.read_text())
    (dev,) = [d for d in doc["devices"] if d["id"] == "redfish:1U"]
    assert dev["energy_j"] / doc["duration_s"] == pytest.approx(450.0, rel=0.01)
    assert not dev["counts_in_total"] and dev["provenance"] == "measured"
    (row,) = wall.wall_comparison(doc)
    assert row["unmetered_j"] == pytest.approx(dev["energy_j"] - doc["energy_j"])
    assert "redfish:1U" in probe_out.stdout
    for text in (done.stdout, done.stderr, out.read_text(), probe_out.stdout, md.stdout, md.stderr):
        assert SECRET not in text
    assert "unmetered" in done.stdout + done.stderr
    assert md.returncode == 0, md.stderr
    page = (tmp_path / "r.md").read_text()
    assert "Node wall power against the components" in page and "unmetered" in page
    assert SECRET not in page


IPMITOOL_OUTPUT = """
    Instantaneous power reading:                   {watts} Watts
    Minimum during sampling period:                 88 Watts
    Maximum during sampling period:                612 Watts
    Average power reading over sample period:      431 Watts
    IPMI timestamp:                           Thu Dec  3 05:00:00 2026
    Sampling period:                          00000001 Seconds.
    Power reading state is:                   {state}

"""

FREEIPMI_OUTPUT = """Current Power                        : {watts} Watts
Minimum Power over sampling duration : 88 watts
Maximum Power over sampling duration : 612 watts
Average Power over sampling duration : 431 watts
Time Stamp                           : 12/03/2026 - 05:00:00
Statistics reporting time period     : 1000 milliseconds
Power Measurement                    : Active
"""


def test_parse_recorded_dcmi_outputs():
    assert wall.parse_dcmi(IPMITOOL_OUTPUT.format(watts=450, state="activated")) == 450.0
    assert wall.parse_dcmi(FREEIPMI_OUTPUT.format(watts=451), "ipmi-dcmi") == 451.0
    with pytest.raises(Exception, match="deactivated"):
        wall.parse_dcmi(IPMITOOL_OUTPUT.format(watts=0, state="deactivated"))
    with pytest.raises(Exception, match="no power reading"):
        wall.parse_dcmi("Error: unable to establish IPMI v2 / RMCP+ session\n")


def _fake_ipmitool(tmp_path: Path) -> tuple[Path, Path]:
    """A recorded-output stand-in for ipmitool: prints DCMI output, checks how it is called."""
    watts = tmp_path / "watts"
    watts.write_text("450")
    script = tmp_path / "ipmitool"
    script.write_text(
        f"""#!{sys.executable}
import os, sys
args = sys.argv[1:]
open({str(tmp_path / "argv")!r}, "a").write(" ".join(args) + "\\n")
if args[-3:] != ["dcmi", "power", "reading"]:
    sys.exit("unexpected arguments")
if "-E" in args and os.environ.get("IPMI_PASSWORD") != {SECRET!r}:
    print("Error: Unable to establish IPMI v2 / RMCP+ session", file=sys.stderr); sys.exit(1)
w = open({str(watts)!r}).read().strip()
if w == "lost":
    print("Error: Unable to establish IPMI v2 / RMCP+ session", file=sys.stderr); sys.exit(1)
print({IPMITOOL_OUTPUT!r}.format(watts=w, state="activated"))
"""
    )
    script.chmod(0o755)
    return script, watts


def test_ipmi_over_lan_truth_and_lost_bmc(tmp_path, clock: FakeClock):
    tool, watts = _fake_ipmitool(tmp_path)
    env = {
        wall.ENV_IPMITOOL: str(tool),
        wall.ENV_IPMI_HOST: "127.0.0.1",
        wall.ENV_IPMI_USER: "admin",
        wall.ENV_IPMI_PASSWORD: SECRET,
        wall.ENV_PERIOD: "60",
    }
    found = wall.discover(env)
    (probe,) = found.probes
    assert probe.id == "ipmi:dcmi" and not probe.counts_in_total
    sampler = Sampler([probe], interval_s=0.1, clock=clock)
    m = Meter(sampler=sampler).start()
    for _ in range(100):
        clock.advance(0.1)
        sampler.sample()
    watts.write_text("lost")
    for _ in range(wall.MAX_FAILURES):
        probe.poll()
    with pytest.warns(Warning, match="RMCP"):
        clock.advance(0.1)
        sampler.sample()
    result = m.stop()
    probe.close()
    assert result.by_device["ipmi:dcmi"] == pytest.approx(4500.0, rel=0.01)
    assert result.devices[0].status == "failed"
    argv_log = (tmp_path / "argv").read_text()
    assert SECRET not in argv_log and "-E" in argv_log  # the password goes by environment
    assert SECRET not in json.dumps(result.to_dict())


def test_no_bmc_here_is_reported():
    found = wall.discover({wall.ENV_IPMITOOL: "/usr/bin/true"})
    reasons = {u.probe: u.reason for u in found.unavailable}
    assert "GREENAI_REDFISH_URL is not set" in reasons["redfish"]
    assert "/dev/ipmi0" in reasons["ipmi"]


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(
    not (Path("/usr/bin/ipmi_sim").exists() and Path("/usr/bin/ipmitool").exists()),
    reason="needs OpenIPMI's ipmi_sim and ipmitool",
)
def test_real_ipmitool_against_ipmi_sim_which_serves_no_dcmi(tmp_path: Path):
    """ipmi_sim (OpenIPMI lanserv) answers DCMI Get Power Reading with 0xC1: the probe says so.

    The session itself is real: the password travels in IPMI_PASSWORD (-E), and a wrong one
    fails at RMCP+ session set-up; neither error shows the password.
    """
    port = _free_udp_port()
    (tmp_path / "lan.conf").write_text(
        f"""name "greenai"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 2 true  "admin" "{SECRET}" admin    10       none md2 md5 straight
"""
    )
    (tmp_path / "sim.emu").write_text(
        "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
        "mc_enable 0x20\n"
    )
    sim = subprocess.Popen(
        ["/usr/bin/ipmi_sim", "-c", "lan.conf", "-f", "sim.emu", "-n", "-s", str(tmp_path / "st")],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        env = {
            wall.ENV_IPMITOOL: "/usr/bin/ipmitool",
            wall.ENV_IPMI_HOST: "127.0.0.1",
            wall.ENV_IPMI_PORT: str(port),
            wall.ENV_IPMI_CIPHER: "3",  # ipmi_sim lacks ipmitool's default suite 17
            wall.ENV_IPMI_USER: "admin",
            wall.ENV_IPMI_PASSWORD: SECRET,
            wall.ENV_PERIOD: "60",
        }
        import time

        deadline = time.monotonic() + 15
        ready = [
            "/usr/bin/ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", str(port),
            "-U", "admin", "-E", "-R", "1", "-N", "1", "mc", "info",
        ]  # fmt: skip
        child = {**os.environ, "IPMI_PASSWORD": SECRET}
        while subprocess.run(ready, capture_output=True, env=child, timeout=20).returncode:
            assert time.monotonic() < deadline, "ipmi_sim did not answer"
            time.sleep(0.2)
        found = wall.discover_ipmi(env)
        (u,) = found.unavailable
        assert not found.probes
        assert "Invalid command (c1)" in u.reason, u.reason
        wrong = wall.discover_ipmi({**env, wall.ENV_IPMI_PASSWORD: "not-the-password"})
        (w,) = wrong.unavailable
        print("IPMI_SIM", u.reason, "|", w.reason)
        assert "c1" not in w.reason and "exit code" in w.reason, w.reason
        assert SECRET not in u.reason + u.remedy + w.reason + w.remedy
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def test_in_band_ipmitool_and_freeipmi(tmp_path, monkeypatch):
    tool, _ = _fake_ipmitool(tmp_path)
    dev = tmp_path / "ipmi0"
    dev.write_text("")
    monkeypatch.setattr(wall, "_IPMI_DEVICES", (str(dev),))
    (probe,) = wall.discover_ipmi({wall.ENV_IPMITOOL: str(tool), wall.ENV_PERIOD: "60"}).probes
    assert probe.read() == 450.0 and probe.info()["access"].startswith("in band")
    probe.close()
    assert (tmp_path / "argv").read_text().splitlines()[-1] == "dcmi power reading"
    # freeipmi's ipmi-dcmi over the LAN takes the password from a file only
    dcmi = tmp_path / "ipmi-dcmi"
    dcmi.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(tmp_path / 'dcmi-argv')!r}, 'w').write(' '.join(sys.argv[1:]))\n"
        f"print({FREEIPMI_OUTPUT!r}.format(watts=377))\n"
    )
    dcmi.chmod(0o755)
    env = {wall.ENV_IPMITOOL: str(dcmi), wall.ENV_IPMI_HOST: "10.0.0.9", wall.ENV_PERIOD: "60"}
    refused = wall.discover_ipmi({**env, wall.ENV_IPMI_USER: "u", wall.ENV_IPMI_PASSWORD: SECRET})
    assert "from a file" in refused.unavailable[0].reason
    conf = tmp_path / "freeipmi.conf"
    conf.write_text(f"password {SECRET}\n")
    (probe,) = wall.discover_ipmi({**env, wall.ENV_IPMI_PASSWORD_FILE: str(conf)}).probes
    assert probe.read() == 377.0
    probe.close()
    argv = (tmp_path / "dcmi-argv").read_text()
    assert "--get-system-power-statistics" in argv and SECRET not in argv


def test_a_stalled_poller_is_a_lost_probe():
    now = [0.0]
    probe = wall.PolledPowerProbe("t:wall", lambda: 300.0, {}, period_s=60.0, clock=lambda: now[0])
    probe._stop.set()  # no thread polls: the reading ages
    assert probe.read() == 300.0
    now[0] = 601.0
    with pytest.raises(Exception, match="no reading for 601 s"):
        probe.read()
    probe.close()


def test_an_unexpected_error_in_fetch_counts_as_a_failed_poll():
    calls = [0]

    def fetch() -> float:
        calls[0] += 1
        if calls[0] > 1:
            raise KeyError("PowerControl")
        return 100.0

    probe = wall.PolledPowerProbe("t:wall", fetch, {}, period_s=60.0)
    for _ in range(wall.MAX_FAILURES):
        probe.poll()
    with pytest.raises(Exception, match="KeyError"):
        probe.read()
    probe.close()
