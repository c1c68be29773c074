"""Question templates per intent, filled from a candidate's slots, in the voices people type in a chat."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .shapes import Candidate

# Several phrasings per intent, so no single template dominates the set.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "lookup": (
        "What is the {attrs} of {ent}?", "what's the {attrs} for {ent}", "{attrs} of {ent}?",
        "Can you tell me the {attrs} of {ent}?", "I need the {attrs} for {ent}", "show the {attrs} for {ent}",
        "{ent} {attrs}?", "look up the {attrs} of {ent}", "what {attrs} does {ent} have?",
        "do you know the {attrs} of {ent}", "give me {ent}'s {attrs}", "which {attrs} is listed for {ent}?",
    ),
    "lookup_many": (
        "how many {attrs} is {ent}?", "How many {attrs} does {ent} have?", "how many {attrs} for {ent}",
        "{ent}: how many {attrs}?", "how many {attrs} is {ent} worth?", "Do you know how many {attrs} {ent} has?",
    ),
    "filter_eq": (
        "Which {Ts} have {col} {val}?", "list all {Ts} where the {col} is {val}", "{Ts} with {col} {val}",
        "show me {Ts} whose {col} is {val}", "are there any {Ts} with {col} {val}?",
        "give me every {Ts} that has {col} = {val}", "find {Ts} with a {col} of {val}", "{val} {Ts}?",
        "What {Ts} are {val}?", "all {Ts} with {col} set to {val}",
    ),
    "filter_cmp": (
        "Which {Ts} have a {col} {op} {val}?", "list {Ts} with {col} {op} {val}", "{Ts} where {col} is {op} {val}",
        "show me all {Ts} whose {col} is {op} {val}", "any {Ts} with {col} {op} {val}?",
        "find the {Ts} with {col} {op} {val}", "{Ts} {col} {op} {val}", "I'm looking for {Ts} with a {col} {op} {val}",
    ),
    "filter_like": (
        "any {Ts} with '{word}' in the {col}?", "Which {Ts} have a {col} containing {word}?",
        "{Ts} whose {col} mentions {word}", "search {Ts} for {word}", "find {Ts} with {word} in their {col}",
        "list {Ts} where the {col} includes \"{word}\"", "are there {Ts} about {word}?", "{word} {Ts}",
    ),
    "count": (
        "How many {Ts} are there{cond}?", "how many {Ts}{cond}", "number of {Ts}{cond}",
        "count the {Ts}{cond}", "total number of {Ts}{cond}?", "What is the count of {Ts}{cond}?",
        "how many {Ts} do we have{cond}", "# of {Ts}{cond}?",
    ),
    "aggregate": (
        "What is the {fn} {col} of {Ts}{scope}{cond}{when}?", "{fn} {col}{scope}{cond}{when}?", "what's the {fn} {col} across {Ts}{scope}{cond}{when}",
        "Calculate the {fn} {col} for {Ts}{scope}{cond}{when}", "tell me the {fn} {col} of the {Ts}{scope}{cond}{when}",
        "{fn} {col} of all {Ts}{scope}{cond}{when}", "give me the {fn} {col}{scope}{cond}{when}",
    ),
    "distinct": (
        "What {col} values are there for {Ts}?", "list the distinct {col} of {Ts}", "which {col}s do {Ts} have?",
        "different {col} values among {Ts}", "what kinds of {col} exist for {Ts}", "unique {col} of {Ts}?",
        "Show all possible {col} values of {Ts}.",
    ),
    "date_year": (
        "Which {Ts} have a {col} in {year}?", "{Ts} with {col} during {year}", "list {Ts} whose {col} falls in {year}",
        "show {Ts} where the {col} is in {year}", "any {Ts} with {col} in {year}?",
    ),
    "date_on": (
        "What {T} is running on {day}?", "which {T} includes {day}?", "{T} on {day}?",
        "what {T} was it on {day}", "Which {T} covers the date {day}?",
    ),
    "above_avg": (
        "Which {Ts} have a {col} above the average?", "{Ts} with more {col} than average",
        "list {Ts} whose {col} is higher than the average {col}", "above-average {col} {Ts}?",
        "show {Ts} with {col} greater than the mean",
    ),
    "below_avg": (
        "Which {Ts} have a {col} below the average?", "{Ts} with less {col} than average",
        "list {Ts} whose {col} is lower than the average {col}", "below-average {col} {Ts}?",
        "show {Ts} with {col} under the mean",
    ),
    "in_list": (
        "What is the {col} of {ents}?", "{col} for {ents}", "show the {col} of {ents}",
        "compare the {col} of {ents}", "give me {col} for {ents}", "{ents}: what {col}?",
    ),
    "fk_lookup": (
        "Which {P} is {ent} in?", "what {P} does {ent} belong to?", "{P} of {ent}?", "{who} is the {P} for {ent}?",
        "tell me the {P} of {ent}", "whats the {P} for {ent}", "{ent} - which {P}?", "look up {ent}'s {P}",
    ),
    "children": (
        "What are the {Cs} of {ent}{when}{cond}?", "list the {Cs} for {ent}{when}{cond}", "show me all {Cs} in {ent}{when}{cond}",
        "{ent} {Cs}{when}{cond}", "which {Cs} does {ent} have{when}{cond}?", "{Cs} for {ent}{when}{cond}, by {order}",
        "give me the {Cs} of {ent}{when}{cond}", "what {Cs} are there for {ent}{when}{cond}?", "I want to see the {Cs} of {ent}{when}{cond}",
        "{Cs} of {ent}{when}{cond}?",
    ),
    "child_top": (
        "Which {C} of {ent} has the {most} {col}{when}?", "the {C} with the {most} {col} in {ent}{when}",
        "what's the {C} with the {most} {col} for {ent}{when}", "{ent}: which {C} has the {most} {col}{when}?",
        "find the {C} of {ent} with the {most} {col}{when}",
    ),
    "bridge": (
        "{who} is the {target} for {ent}{when}?", "What are the {targets} of {ent}{when}?",
        "list the {targets} for {ent}{when}", "{targets} of {ent}{when}", "what's the {target} of {ent}{when}",
        "show me the {targets} linked to {ent}{when}", "which {targets} go with {ent}{when}?",
        "{ent} {targets}{when}?",
    ),
    "bridge_rev": (
        "Which {targets} have {ent} as their {src}{when}?", "{targets} with {src} {ent}{when}",
        "find every {target} that has {ent} as {src}{when}", "{targets} where the {src} is {ent}{when}",
        "list {targets} whose {src} is {ent}{when}", "{who} has {ent} as {src}{when}?",
    ),
    "count_children": (
        "How many {Cs} does {ent} have{when}{cond}?", "how many {Cs} are in {ent}{when}{cond}",
        "number of {Cs} for {ent}{when}{cond}", "count of {Cs} in {ent}{when}{cond}?",
        "how many {Cs}{cond} for {ent}{when}", "{ent}: how many {Cs}{when}{cond}?",
        "total {Cs} of {ent}{when}{cond}", "What is the number of {Cs} in {ent}{when}{cond}?",
    ),
    "per_group": (
        "How many {Ts} are there per {G}{when}?", "number of {Ts} for each {G}{when}", "{Ts} count by {G}{when}",
        "count {Ts} for every {G}{when}", "how many {Ts} does each {G} have{when}?", "Break down the number of {Ts}{when} by {G}.",
        "{Ts} per {G}{when}?", "how many {Ts} in each {G}{when}",
    ),
    "per_group_agg": (
        "What is the {fn} {col} of {Ts} per {G}?", "{fn} {col} for each {G}", "{fn} {col} by {G}",
        "show the {fn} {col} of {Ts} grouped by {G}", "for every {G}, what's the {fn} {col}?",
        "{G} and {fn} {col} of its {Ts}",
    ),
    "having": (
        "Which {Ps} have {op} {n} {Cs}{when}?", "{Ps} with {op} {n} {Cs}{when}", "list {Ps} that have {op} {n} {Cs}{when}",
        "show {Ps} having {op} {n} {Cs}{when}", "any {Ps} with {op} {n} {Cs}{when}?", "find {Ps} where the number of {Cs} is {op} {n}{when}",
    ),
    "top_num": (
        "What are the top {k} {Ts} by {col}{when}?", "the {k} {Ts} with the {most} {col}{when}", "top {k} {Ts} by {col}{when}",
        "show {k} {Ts} with the {most} {col}{when}", "list the {k} {Ts} that have the {most} {col}{when}",
        "which {k} {Ts} have the {most} {col}{when}?",
    ),
    "top_num_low": (
        "What are the {k} {Ts} with the {most} {col}{when}?", "the {k} {Ts} with the {most} {col}{when}",
        "show {k} {Ts} with the {most} {col}{when}", "list the {k} {Ts} that have the {most} {col}{when}",
        "which {k} {Ts} have the {most} {col}{when}?", "bottom {k} {Ts} by {col}{when}",
    ),
    "top_one": (
        "Which {T} has the {most} {col}{when}?", "{T} with the {most} {col}{when}", "what's the {T} with the {most} {col}{when}",
        "find the {T} with the {most} {col}{when}", "which of the {Ts} has the {most} {col}{when}?",
    ),
    "top_count": (
        "Which {k} {Ps} have the most {Cs}{when}?", "top {k} {Ps} by number of {Cs}{when}", "the {k} {Ps} with the most {Cs}{when}",
        "list the top {k} {Ps} by {Cs}{when}", "{k} {Ps} with the most {Cs}{when}?",
    ),
    "top_count_one": (
        "Which {P} has the most {Cs}{when}?", "{P} with the most {Cs}{when}", "what {P} has the largest number of {Cs}{when}",
        "which {P} has the largest number of {Cs}{when}?", "the {P} that has the most {Cs}{when}",
    ),
    "anti": (
        "Which {Ps} have no {Cs}?", "{Ps} without any {Cs}", "are there {Ps} with zero {Cs}?",
        "list {Ps} that don't have {Cs}", "show {Ps} missing {Cs}", "find {Ps} with no {Cs} at all",
        "which {Ps} don't have any {Cs}",
    ),
    "has_child": (
        "Which {Ps} have a {C} with {col} {val}?", "{Ps} that have a {val} {C}", "which {Ps} have any {val} {Cs}?",
        "list {Ps} with {Cs} whose {col} is {val}", "{Ps} with a {val} {C}?", "show {Ps} having {col} {val} {Cs}",
    ),
    "has_child_like": (
        "Which {Ps} have a {C} about {val}?", "{Ps} with {Cs} mentioning {val}", "which {Ps} cover {val}?",
        "list {Ps} that have a {C} with {val} in the {col}", "any {Ps} with {val} {Cs}?",
        "find {Ps} whose {Cs} include {val}",
    ),
    "has_child_when": (
        "Which {cond}{Ps} have {Cs}{when}?", "{cond}{Ps} with {Cs}{when}", "which {cond}{Ps} have any {Cs}{when}",
        "list {cond}{Ps} that have {Cs}{when}", "{cond}{Ps} that have at least one {C}{when}",
        "Which {cond}{Ps} are running{when}?",
    ),
    "period": (
        "Which {Ts} are there{when}{cond}?", "list the {Ts}{when}{cond}", "{Ts}{when}{cond}",
        "show me all {Ts}{cond}{when}", "what {Ts} do we have{when}{cond}?", "any {Ts}{cond}{when}?",
        "I need the list of {Ts}{when}{cond}",
    ),
    # finetune/generator/analyses.py
    "share": (
        "What percentage of {Ts}{scope} have {col} {val}?", "what % of {Ts}{scope} are {val}", "share of {Ts}{scope} "
        "with {col} {val}", "percent of {Ts}{scope} whose {col} is {val}?", "how many {Ts}{scope} have {col} {val}, in "
        "percent", "{val} {Ts}{scope} as a percentage of all of them", "what fraction of {Ts}{scope} have {col} {val}, "
        "as a percent?",
    ),
    "share_cmp": (
        "What percentage of {Ts}{scope} have a {col} {op} {val}?", "what % of {Ts}{scope} have {col} {op} {val}",
        "share of {Ts}{scope} with {col} {op} {val}", "percent of {Ts}{scope} whose {col} is {op} {val}?",
        "how many {Ts}{scope} have a {col} {op} {val}, as a percentage",
    ),
    "ratio": (
        "What is the ratio of {a} to {b} {Ts}{scope}?", "ratio of {Ts} with {col} {a} to those with {b}{scope}",
        "{a} vs {b} {Ts}{scope}: what's the ratio?", "how many {col} {a} {Ts} are there for each {b} one{scope}",
        "{Ts}{scope}: ratio of {col} {a} to {col} {b}", "compare {a} and {b} {Ts}{scope} as a ratio",
    ),
    "both": (
        "Which {Ds} have both {ents} as {src}?", "{Ds} linked to both {ents}", "which {Ds} go with both {ents}?",
        "{Ds} that {ents} both have", "show {Ds} shared by both {ents}", "find {Ds} whose {srcs} include both {ents}",
        "list the {Ds} with both {ents}",
    ),
    "both_values": (
        "Which {Ps} have both {ents} {Cs}?", "{Ps} with {Cs} of both {col} {ents}", "which {Ps} have {Cs} with "
        "{col} {ents}, both of them?", "list {Ps} having both {ents} among their {Cs}", "{Ps} that have both {ents} "
        "{Cs}", "find {Ps} whose {Cs} include both {col} {ents}",
    ),
    "top_per_group": (
        "Which {T} has the {most} {col} in each {G}?", "the {T} with the {most} {col} per {G}",
        "for every {G}, the {T} with the {most} {col}", "{most} {col} {T} for each {G}?",
        "show the {T} with the {most} {col} in every {G}", "in each {G}, which {T} has the {most} {col}?",
        "{G} by {G}: the {T} with the {most} {col}",
    ),
    "per_year": (
        "How many {Ts} are there per year of {col}?", "number of {Ts} each year by {col}", "{Ts} per {col} year",
        "count {Ts} by year of their {col}", "how many {Ts} in each year, going by {col}",
        "yearly count of {Ts} by {col}",
    ),
    "per_month": (
        "How many {Ts} per month of {col}{when}?", "number of {Ts} each month by {col}{when}",
        "{Ts} per {col} month{when}", "monthly count of {Ts} by {col}{when}", "count {Ts} by month of {col}{when}",
        "break down {Ts}{when} by month of {col}",
    ),
    "per_year_col": (
        "How many {Ts} are there per {col}?", "number of {Ts} for each {col}", "{Ts} per {col}",
        "count {Ts} by {col}", "how many {Ts} in each {col}?", "{Ts} count by {col}, in order",
    ),
    "per_year_agg": (
        "What is the {fn} {num} of {Ts} per year of {col}?", "{fn} {num} each year by {col}",
        "{fn} {num} per {col} year", "by year of {col}, what's the {fn} {num}?", "yearly {fn} {num} of {Ts} by {col}",
    ),
    "per_month_agg": (
        "What is the {fn} {num} of {Ts} per month of {col}{when}?", "{fn} {num} each month by {col}{when}",
        "monthly {fn} {num} by {col}{when}", "by month of {col}{when}, what's the {fn} {num}?",
        "{fn} {num} of {Ts} per {col} month{when}",
    ),
    "per_year_col_agg": (
        "What is the {fn} {num} of {Ts} per {col}?", "{fn} {num} for each {col}", "{fn} {num} by {col}",
        "for every {col}, what's the {fn} {num} of {Ts}?", "{col} and {fn} {num} of {Ts}",
    ),
    "chain_up": (
        "Who is above {ent} by {role}, all the way up?", "the full {role} chain for {ent}",
        "{ent}: every {T} above by {role}, up to the top", "list everyone above {ent} through {role}, directly or "
        "indirectly", "all {Ts} above {ent} via {role}, at every level", "trace the {role} chain up from {ent}",
    ),
    "chain_down": (
        "Which {Ts} have {ent} as {role}, directly or indirectly?", "everyone under {ent} through {role}, at any level",
        "all {Ts} below {ent} in the {role} chain", "{Ts} under {ent} by {role}, directly or not",
        "list every {T} under {ent} by {role}, including indirect ones", "the whole tree under {ent} by {role}",
    ),
    "chain_link": (
        "What are all the {roles} of {ent}, including indirect ones?", "all {roles} of {ent}, directly or indirectly",
        "{ent}: every {role}, and their {roles} too", "the full chain of {roles} for {ent}",
        "list the {roles} of {ent} recursively", "which {Ts} are {roles} of {ent} at any depth?",
    ),
    "chain_link_rev": (
        "Which {Ts} have {ent} as a {role}, directly or indirectly?", "all {Ts} that need {ent} as {role}, at any depth",
        "{Ts} with {ent} somewhere in their {role} chain", "everything that has {ent} as {role}, including indirectly",
        "list {Ts} that depend on {ent} as {role}, directly or not", "{ent}: which {Ts} have it as {role}, recursively?",
    ),
    "rank_total": (
        "Which {k} {Ps} have the {most} {fn} {col} of their {Cs}{when}?", "top {k} {Ps} by {fn} {col}{when}",
        "the {k} {Ps} with the {most} {fn} {col}{when}", "rank {Ps} by {fn} {col} of their {Cs}{when}, top {k}",
        "{k} {Ps} with the {most} {fn} {col}{when}?", "list the {k} {Ps} whose {Cs} have the {most} {fn} {col}{when}",
    ),
    "rank_total_one": (
        "Which {P} has the {most} {fn} {col}{when}?", "{P} with the {most} {fn} {col} of its {Cs}{when}",
        "what {P} has the {most} {fn} {col}{when}", "the {P} whose {Cs} have the {most} {fn} {col}{when}",
        "which of the {Ps} has the {most} {fn} {col}{when}?",
    ),
}

_PROTECTED = ("ent", "ents", "val", "word", "n", "k", "year", "day", "when", "a", "b")
_CASUAL = {"what is": "whats", "what's": "whats", "what are": "what r", "you": "u", "please": "pls",
           "which": "wich", "how many": "how mnay", "show me": "show me"}


@dataclass(frozen=True)
class Phrasing:
    text: str
    template: str  # "<intent>:<index>"
    style: str


def write_questions(cand: Candidate, rng: random.Random, n: int = 1) -> list[Phrasing]:
    """`n` different template questions for `cand` (each a different template)."""
    options = list(enumerate(TEMPLATES[cand.intent]))
    rng.shuffle(options)
    out = []
    for i, template in options[:n]:
        text = _fill(template, cand.slots)
        style = rng.choices(["formal", "casual", "terse", "typo"], [0.4, 0.35, 0.1, 0.15])[0]
        out.append(Phrasing(_voice(text, style, cand.slots, rng), f"{cand.intent}:{i}", style))
    return out


def _fill(template: str, slots: dict) -> str:
    text = template.format_map(_Blank(slots))
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([?,.])", r"\1", text)
    return text[0].upper() + text[1:] if text else text


class _Blank(dict):
    def __missing__(self, key):
        return ""


def _voice(text: str, style: str, slots: dict, rng: random.Random) -> str:
    """The same question typed formally, casually, tersely or hastily (typos never touch values)."""
    if style == "formal":
        return text if text.endswith(("?", ".")) else text + "?"
    protected = {w.lower() for k in _PROTECTED for w in str(slots.get(k, "")).split()}
    if style == "terse":
        text = re.sub(r"^(can you tell me|tell me|please|i need|i want to see|show me|give me)\s+", "", text,
                      flags=re.I)
        return text.rstrip("?.")
    text = text.rstrip("?.") if rng.random() < 0.6 else text
    if style == "casual":
        return _lower_words(text, protected if rng.random() < 0.5 else set())
    text = _lower_words(text, set())
    for a, b in _CASUAL.items():
        if a in text and rng.random() < 0.5 and not set(a.split()) & protected:
            text = text.replace(a, b, 1)
            return text
    words = text.split(" ")
    idx = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha() and w.lower() not in protected]
    if idx:
        i = rng.choice(idx)
        w = words[i]
        j = rng.randrange(1, len(w) - 2)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _lower_words(text: str, keep: set[str]) -> str:
    return " ".join(w if w.lower() in keep else w.lower() for w in text.split(" "))
