"""Reporters: each turns a Measurement/disclosure into one output format. None reads hardware."""
