"""The benchmark history reads each kind of result file as what it is: the committed files of this repository."""
from __future__ import annotations

from pathlib import Path

from bench.history import summarize, table

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"


def test_quality_and_followup_runs_get_their_own_rows():
    quality = summarize(RESULTS / "quality-amd.json")
    followups = summarize(RESULTS / "followups-20261207.json")
    dev = summarize(RESULTS / "eval-dev-20261207.json")
    assert quality["benchmark"] == "quality" and quality["figures"]["by_database"]["course"] > 0.9
    assert followups["benchmark"] == "followups" and followups["figures"]["n"] == 30
    assert dev["benchmark"] == "eval" and dev["figures"]["correct"] == 85
    text = table([quality, followups, dev])
    assert "mean subset EX 30.5%" in text and "standalone rewrite 22" in text and "dev: 85/95" in text
