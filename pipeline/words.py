"""Plain English for schema names: 'course_topics' -> 'course topic', plurals, the nouns people use instead, and the
words of a text as retrieval, schema linking and the prompt's table ranking split it."""
from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")

# The columns that hold a person's first and last name, however a schema spells them.
PERSON_COLUMNS = (("first_name", "last_name"), ("given_name", "family_name"), ("firstname", "lastname"))


def person_columns(names) -> tuple[str, str] | None:
    """The (first, last) name columns among the column `names`, if a person's name is there."""
    have = set(names)
    return next((pair for pair in PERSON_COLUMNS if set(pair) <= have), None)


def abbreviates(short: str, long: str) -> bool:
    """Whether `short` is a shortening of `long`: its letters, in order, from `long`'s first ('CE' of 'Computer
    Engineering', 'MATH' of 'Mathematics'); never a code with digits ('CS 2110'), which names a row by itself."""
    s, full = short.lower(), long.lower()
    if not s.isalpha() or len(s) < 2 or len(s) >= len(full.replace(" ", "")) or s[0] != full[:1]:
        return False
    rest = iter(full)
    return all(ch in rest for ch in s)


def short_columns(columns: dict[str, list[str]]) -> dict[str, str]:
    """{column: the column it shortens} among one table's naming `columns` (name -> its values): a department's
    code ('CE') beside its name ('Computer Engineering'), where every value of the first shortens one of the second."""
    out = {}
    for short, vals in columns.items():
        for full, longs in columns.items():
            if full != short and len(vals) >= 2 and all(any(abbreviates(v, w) for w in longs) for v in vals):
                out[short] = full
                break
    return out


# Words naming a column that numbers a row's place among its siblings (week 3 of a course, step 2 of a recipe).
SEQUENCE_WORDS = frozenset({"week", "day", "position", "sequence", "seq", "ordinal", "step", "lesson", "chapter",
                            "session", "lecture", "module", "unit", "stage", "phase", "sort", "line", "episode"})


def sequence_column(name: str) -> bool:
    """Whether a number column called `name` numbers rows in order ('week', 'sort_order', 'step_number')."""
    return bool(set(words(name)) & SEQUENCE_WORDS)


WEIGHT_WORDS = frozenset({"weight", "weighting", "percent", "percentage", "share"})


def weight_column(name: str) -> bool:
    """Whether a number column called `name` gives each row's share of its parent ('weight_percent'): such rows are
    read heaviest first."""
    return bool(set(words(name)) & WEIGHT_WORDS)


def words(text: str) -> list[str]:
    """The lower-cased words of `text` (letters and digits), in order; punctuation dropped."""
    return _WORD.findall(text.lower())


# Plain-English synonyms people use for common table nouns; generic vocabulary, not any one database.
SYNONYMS = {
    "instructor": ("professor", "teacher"), "term": ("semester",), "course": ("class",),
    "student": ("student",), "customer": ("client",), "product": ("item",), "employee": ("staff member",),
    "order": ("purchase",), "author": ("writer",), "book": ("title",), "member": ("patron",),
}


# A column that holds where a span begins ('starts_on', 'start_time', 'valid_from'), as against where it ends.
START = re.compile(r"start|begin|from")


# The same for common column words: a section's, a room's or a flight's capacity is counted in seats.
COLUMN_SYNONYMS = {"capacity": ("seats", "spots", "size"), "price": ("cost",), "salary": ("pay",)}


def humanise(name: str) -> str:
    """'course_topics' -> 'course topics', 'department_id' -> 'department'."""
    parts = [w for w in re.split(r"[_\s]+", name.lower()) if w]
    if len(parts) > 1 and parts[-1] in ("id", "fk", "key"):
        parts = parts[:-1]
    return " ".join(parts)


def singular(phrase: str) -> str:
    """The singular of the last word of `phrase` (simple English rules)."""
    head, _, last = phrase.rpartition(" ")
    if last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("sses", "ches", "shes", "xes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return f"{head} {last}".strip()


def names_its_table(value: str, table: str) -> bool:
    """Whether a stored state is the act its table is named after: 'enrolled' of `enrollments` (not 'dropped')."""
    stem = re.sub(r"(?:ed|ing|s)$", "", value.lower())
    return len(stem) >= 4 and stem.isalpha() and singular(humanise(table)).startswith(stem)


def plural(phrase: str) -> str:
    """The plural of the last word of `phrase`."""
    head, _, last = phrase.rpartition(" ")
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    elif last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    else:
        last += "s"
    return f"{head} {last}".strip()


def one_edit(a: str, b: str) -> bool:
    """Whether `a` is `b` typed with one slip: two neighbouring letters swapped or, in words of six letters or more,
    one letter left out, added or wrong. Shorter words change into other words that way ('teach' and 'each', 'last'
    and 'least', 'order' and 'older')."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return True
        return len(diff) == 1 and len(a) >= 6
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= 6 and any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def respell(text: str, vocabulary: frozenset[str]) -> str:
    """`text` lower-cased, each word of four letters or more that is one slip away from exactly one word of
    `vocabulary` (and is none itself) replaced by it: 'fewer' for 'feewr', 'many' for 'mnay'."""
    def fix(m: re.Match) -> str:
        w = m.group(0)
        if len(w) < 4 or w in vocabulary:
            return w
        near = [v for v in vocabulary if one_edit(w, v)]
        return near[0] if len(near) == 1 else w
    return re.sub(r"[a-z]+", fix, text.lower())
