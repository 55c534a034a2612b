"""Fakes that behave like the hardware: units, wraparound, permissions, error classes."""
