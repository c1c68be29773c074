"""Benchmarks: runnable scripts (bench_*.py) and the helpers they share (common.py)."""
