"""Benchmark harness and workloads for operators: `greenai bench run SUITE`."""
