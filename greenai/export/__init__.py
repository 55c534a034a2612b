"""Live exporters of power and energy (Prometheus)."""
