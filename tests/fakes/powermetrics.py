"""Stand-in output of macOS ``powermetrics -f plist`` (samples separated by NUL bytes).

The layout follows what powermetrics 13+ writes with ``--samplers cpu_power,gpu_power``:
top-level ``elapsed_ns``, ``hw_model``, ``timestamp``, a ``processor`` dict with clusters
and the interval's ``cpu_energy``/``gpu_energy``/``ane_energy`` (mJ, integers) and
``*_power``/``combined_power`` (mW, reals), and a ``gpu`` dict. Run as a script it acts
as the command: ``-i MS`` interval, ``-n N`` samples (then exit 0, or exit 1 with a
message when ``--die``), powers from FAKE_PM_CPU_MW/GPU_MW/ANE_MW.
"""

from __future__ import annotations

import sys
import time

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>is_delta</key>
	<true/>
	<key>elapsed_ns</key>
	<integer>{elapsed_ns}</integer>
	<key>hw_model</key>
	<string>Mac14,9</string>
	<key>kern_osversion</key>
	<string>23F79</string>
	<key>timestamp</key>
	<date>2026-12-03T05:00:00Z</date>
	<key>processor</key>
	<dict>
		<key>clusters</key>
		<array>
			<dict>
				<key>name</key>
				<string>E-Cluster</string>
				<key>freq_hz</key>
				<real>1.0248e+09</real>
				<key>idle_ratio</key>
				<real>0.83</real>
			</dict>
		</array>
		<key>ane_energy</key>
		<integer>{ane_mj}</integer>
		<key>ane_power</key>
		<real>{ane_mw}</real>
		<key>cpu_energy</key>
		<integer>{cpu_mj}</integer>
		<key>cpu_power</key>
		<real>{cpu_mw}</real>
		<key>gpu_energy</key>
		<integer>{gpu_mj}</integer>
		<key>gpu_power</key>
		<real>{gpu_mw}</real>
		<key>combined_power</key>
		<real>{combined_mw}</real>
	</dict>
	<key>gpu</key>
	<dict>
		<key>freq_hz</key>
		<real>3.89e+08</real>
		<key>idle_ratio</key>
		<real>0.71</real>
	</dict>
</dict>
</plist>
"""


def sample(cpu_mw: float, gpu_mw: float, ane_mw: float, elapsed_s: float) -> bytes:
    """Return one plist sample (energies in integer mJ, as powermetrics prints them)."""
    return TEMPLATE.format(
        elapsed_ns=int(round(elapsed_s * 1e9)),
        cpu_mj=int(round(cpu_mw * elapsed_s)),
        gpu_mj=int(round(gpu_mw * elapsed_s)),
        ane_mj=int(round(ane_mw * elapsed_s)),
        cpu_mw=cpu_mw,
        gpu_mw=gpu_mw,
        ane_mw=ane_mw,
        combined_mw=cpu_mw + gpu_mw + ane_mw,
    ).encode()


def main(argv: list[str]) -> int:
    import os

    interval_s = int(argv[argv.index("-i") + 1]) / 1000 if "-i" in argv else 1.0
    count = int(argv[argv.index("-n") + 1]) if "-n" in argv else 10**9
    cpu = float(os.environ.get("FAKE_PM_CPU_MW", "5000"))
    gpu = float(os.environ.get("FAKE_PM_GPU_MW", "2000"))
    ane = float(os.environ.get("FAKE_PM_ANE_MW", "500"))
    out = sys.stdout.buffer
    for k in range(count):
        time.sleep(interval_s)
        if k:
            out.write(b"\0")
        out.write(sample(cpu, gpu, ane, interval_s))
        out.flush()
    if "--die" in argv:
        print("powermetrics: sampler stopped", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
