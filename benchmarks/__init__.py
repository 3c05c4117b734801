"""Benchmarks: ``python -m benchmarks.produce --help``."""
