"""Benchmarks: runnable scripts (bench_*.py, quality.py, mend_offline.py, ...) and the helpers they share (common.py);
results in bench/results/ (the latest of each benchmark and history.jsonl, a row per run; history.py).

May import askdb, pipeline and finetune; nothing but the tests imports bench.
"""
