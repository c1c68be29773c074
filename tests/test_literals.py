"""Values a statement filters on that its question never names (pipeline.literals), golden cases from three schemas."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.literals import filter_literals, unnamed_literals

CASES = [json.loads(line) for line in
         (Path(__file__).parent / "fixtures" / "literals" / "unnamed.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['schema']}: {c['question'][:40]}" for c in CASES])
def test_unnamed_literals(case):
    assert unnamed_literals(case["sql"], case["question"]) == case["unnamed"]


def test_limits_and_unparsable_statements_name_nothing():
    assert filter_literals("SELECT name FROM t ORDER BY n DESC LIMIT 5") == []
    assert filter_literals("SELECT x FROM t WHERE id IN (SELECT id FROM u ORDER BY n LIMIT 3)") == []
    assert unnamed_literals("SELEC nonsense ((", "anything") == []
