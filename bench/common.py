"""What every benchmark shares: the machine it ran on, summaries of repeated runs, peak memory, results JSON."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Awaitable, Callable, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> dict:
    """CPU model, cores, RAM, GPU (if any) and library versions: enough to compare figures between machines."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": _ram_gb(),
        "gpu": _gpu(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "versions": {name: _version(name) for name in ("torch", "transformers", "peft", "asyncpg", "sqlglot")},
    }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return m.group(1).strip() if m else platform.machine()


def _ram_gb() -> float | None:
    try:
        kb = int(re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M).group(1))
    except (OSError, AttributeError):
        return None
    return round(kb / 1024 / 1024, 1)


def _gpu() -> str | None:
    # torch.cuda only when torch is already loaded: importing it just to look costs seconds and memory.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(values: Sequence[float], digits: int = 2) -> dict:
    """n, median, min, max, p95 of repeated measurements."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "p95": round(percentile(values, 95), digits)}


async def repeat(fn: Callable[[], Awaitable[object]], times: int, *, warmup: int = 1) -> dict:
    """Run `fn` warmup + times times and summarize the timed runs in milliseconds."""
    for _ in range(warmup):
        await fn()
    runs = []
    for _ in range(times):
        started = time.perf_counter()
        await fn()
        runs.append((time.perf_counter() - started) * 1000)
    return summarize(runs)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MiB."""
    try:
        m = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
        if m:
            return round(int(m.group(1)) / 1024, 1)
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def write_results(name: str, data: dict, *, command: Sequence[str] | None = None) -> Path:
    """Write `data` with the machine and the command to bench/results/<name>-<UTC time>.json; returns the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    record = {"benchmark": name, "when": stamp, "command": " ".join(command if command is not None else sys.argv),
              "machine": machine_info(), **data}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    tmp.replace(path)  # no half-written results if the run is killed
    return path


class ReportError(Exception):
    """A file that is not an `askdb eval --out` report; the message names it."""


def read_eval_report(path: str | Path) -> dict:
    """An `askdb eval --out` report, checked to hold its list of failures."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {path}: {exc}") from exc
    if not isinstance(report, dict) or not isinstance(report.get("failures"), list):
        raise ReportError(f"{path} is not an askdb eval --out report (no list of failures)")
    return report
