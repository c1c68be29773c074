"""How a question names one row: its code, title or a person's name, or 'this term' for the current period."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .profile import SYNONYMS, SchemaProfile, TableProfile
from .sqlbuild import show


@dataclass
class Ref:
    conds: list[tuple[str, object]]  # (column, value) the WHERE clause tests
    text: str  # the words of the question that name the row; every value is in them
    relative: dict[str, tuple[str, ...]] = field(default_factory=dict)  # literal -> words that stand for it


def relative_phrases(profile: SchemaProfile, value) -> tuple[str, ...]:
    """'this term', 'last fall'... for a label of the period table; empty for any other value."""
    per = profile.period
    if per is None:
        return ()
    nouns = (profile.tables[per.table].noun,) + SYNONYMS.get(profile.tables[per.table].noun, ())
    if value == per.current:
        return tuple(f"this {n}" for n in nouns) + tuple(f"the current {n}" for n in nouns)
    out = []
    if per.previous and value == per.previous[0]:
        out += [f"last {n}" for n in nouns] + [f"the previous {n}" for n in nouns]
    first = str(value).split()[0] if str(value).split() else ""
    if first.isalpha() and next((p for p in per.previous if str(p).split()[:1] == [first]), None) == value:
        out.append(f"last {first.lower()}")
    return tuple(out)


def pick_ref(rng: random.Random, profile: SchemaProfile, t: TableProfile, row: dict,
             *, relative_ok: bool = True) -> Ref | None:
    """A way to name `row` of `t` in a question, or None when it has no usable name."""
    if t.person and row.get(t.person[0]) and row.get(t.person[1]):
        first, last = row[t.person[0]], row[t.person[1]]
        if rng.random() < 0.3:
            n = rng.choice((t.noun,) + SYNONYMS.get(t.noun, ()))
            return Ref([(t.person[1], last)], rng.choice([f"{n} {last}", last]))
        return Ref([(t.person[0], first), (t.person[1], last)], f"{first} {last}")
    if not t.labels:
        return None
    col = rng.choice(t.labels)
    value = row.get(col)
    if value is None or not isinstance(value, str):
        return None
    per = profile.period
    if relative_ok and per and per.table == t.name and col == per.label_column and rng.random() < 0.6:
        phrases = relative_phrases(profile, value)
        if phrases:
            return Ref([(col, value)], rng.choice(phrases), {value: phrases})
    text = show(value)
    r = rng.random()
    if r < 0.2 and len(value.split()) <= 4:
        text = f"the {value} {t.noun}"
    elif r < 0.3:
        text = f"{t.noun} {value}"
    return Ref([(col, value)], text)
