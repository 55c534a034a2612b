"""Hardware probes: one module per source, all behind the Probe protocol in base.py."""

from greenai.probes.base import Method, Probe, ProbeUnavailable

__all__ = ["Method", "Probe", "ProbeUnavailable"]
