"""The offline summary: rank a thread's comments, pick main points, find pushback. Deterministic.

Text maths is scikit-learn's TF-IDF (imported here, lazily: the bot only pays for it when somebody
asks for a summary). Ranking mixes three things:

- centrality: how close a comment's words are to the thread's centre (cosine to the TF-IDF centroid);
- the discussion it drew: replies below it (all levels) and how many other people wrote them;
- substance: very short comments ("Thanks 👍") do not make main points.

Small threads: main points are the best comments, at most one per top-level thread while there are
enough of them, each labelled by the words that mark its sub-thread. Big threads (`TOPIC_THRESHOLD`
comments or more): comments are grouped into topics (k-means on TF-IDF, seeded with the best
comments, so no randomness) and each main point is a topic, labelled by its words, quoting its best
comment. Near-duplicate quotes never appear twice. Everything ties on the item's time order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from bot.summarize.text import (
    PUSHBACK_THRESHOLD,
    content_terms,
    fingerprint,
    pushback_score,
    pushback_sentence,
    sentences,
    stop_words,
    surface_form,
    word_count,
    words,
)
from bot.summarize.thread import Structure, Thread, analyze_structure

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vector = npt.NDArray[np.float64]

Length = Literal["short", "long"]

TOPIC_THRESHOLD = 60  # comments from which main points are topics rather than single comments
NEAR_DUPLICATE = 0.8  # cosine similarity from which two texts count as the same point
QUOTE_MAX = 320  # characters a quote may have before the renderer shortens it
POINTS = {"short": 3, "long": 5}
DISAGREEMENTS = {"short": 1, "long": 2}


@dataclass(frozen=True)
class Facts:
    title: str
    url: str
    comments: int
    people: int
    threads: int  # top-level comments
    longest_chain: int  # comments in the longest chain of replies
    first: datetime | None
    last: datetime | None
    chat_messages: int = 0  # of `comments`, how many were chat-only messages


@dataclass(frozen=True)
class Point:
    label: str
    key: str
    author: str
    quote: str
    link: str
    size: int  # comments in its topic (topics) or its sub-thread (comment and replies)


@dataclass(frozen=True)
class Disagreement:
    claim_key: str
    claim_author: str
    claim: str
    claim_link: str
    reply_key: str
    reply_author: str
    pushback: str
    reply_link: str
    strength: float


@dataclass(frozen=True)
class MostReplied:
    key: str
    author: str
    replies: int
    repliers: int
    quote: str
    link: str


@dataclass(frozen=True)
class Digest:
    """Everything a summary shows, before it is worded into one message."""

    facts: Facts
    points: tuple[Point, ...]
    disagreements: tuple[Disagreement, ...]
    most_replied: MostReplied | None
    topics: bool  # main points are topics of a big thread
    ranking: tuple[str, ...]  # item keys, best first (what an LLM prompt keeps when it must trim)


def build_digest(thread: Thread, length: Length = "short") -> Digest:
    st = analyze_structure(thread)
    n = len(st.items)
    facts = Facts(
        title=thread.title,
        url=thread.url,
        comments=n,
        people=st.people,
        threads=len(st.top_level),
        longest_chain=st.longest_chain,
        first=st.items[0].created_at if n else None,
        last=st.items[-1].created_at if n else None,
        chat_messages=sum(1 for item in st.items if item.source == "chat"),
    )
    if n == 0:
        return Digest(facts, (), (), None, False, ())
    own = [st.own_text(i) for i in range(n)]
    if n == 1:
        item = st.items[0]
        point = Point("", item.key, item.author, _lead(own[0]), item.link, 1)
        return Digest(facts, (point,), (), None, False, (item.key,))
    return _Ranker(st, own, length).digest(facts)


def _lead(text: str) -> str:
    """The opening sentences of a text, up to QUOTE_MAX characters."""
    found = sentences(text)
    quote = found[0] if found else " ".join(text.split())
    for sentence in found[1:]:
        if len(quote) + 1 + len(sentence) > QUOTE_MAX:
            break
        quote += " " + sentence
    return quote


class _Ranker:
    def __init__(self, st: Structure, own: list[str], length: Length) -> None:
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.np = np
        self.st, self.own, self.length = st, own, length
        n = len(own)
        stop = stop_words()
        self.vectorizer = TfidfVectorizer(
            analyzer=lambda text: content_terms(text, stop),
            sublinear_tf=True,
            min_df=2 if n >= 200 else 1,
            max_df=0.6 if n >= 20 else 1.0,
            dtype=np.float64,
        )
        try:
            self.X: Any = self.vectorizer.fit_transform(own)
            self.terms: list[str] = list(self.vectorizer.get_feature_names_out())
        except ValueError:  # no content words at all (emoji, "thanks", "+1")
            self.X, self.terms = None, []
        self.words = [word_count(t) for t in own]
        self.terms_index = {term: k for k, term in enumerate(self.terms)}
        # Labels prefer two-word terms ("holding position") and never use people's names.
        names = {w for author in st.authors for w in words(author) if len(w) > 2}
        df = np.asarray((self.X > 0).sum(axis=0)).ravel() if self.X is not None else np.zeros(0)
        self.label_boost = np.array(
            [
                0.0 if names & set(t.split()) else (1.6 if df[k] >= 2 else 0.6) if " " in t else
                (1.0 if df[k] >= 2 else 0.75) * (0.8 if len(t) < 4 else 1.0)
                for k, t in enumerate(self.terms)
            ],
            dtype=np.float64,
        )
        self.scores = self._scores()
        self.order = sorted(range(n), key=lambda i: (-self.scores[i], i))

    # -- ranking -------------------------------------------------------------------------

    def _scores(self) -> list[float]:
        np, st, n = self.np, self.st, len(self.own)
        if self.X is not None:
            centroid = np.asarray(self.X.mean(axis=0)).ravel()
            norm = float(np.linalg.norm(centroid))
            centrality = self.X @ (centroid / norm) if norm > 0 else np.zeros(n)
            top = float(centrality.max()) or 1.0
            central = [float(v) / top for v in centrality]
        else:
            central = [0.0] * n
        engagement = [math.log1p(st.descendants[i]) + 0.5 * math.log1p(st.repliers[i]) for i in range(n)]
        most = max(engagement) or 1.0
        seen: set[str] = set()
        scores = []
        for i in range(n):
            substance = min(1.0, self.words[i] / 25)
            score = 0.45 * central[i] + 0.40 * engagement[i] / most + 0.15 * substance
            if self.words[i] < 4:
                score *= 0.3
            mark = fingerprint(self.own[i])
            if len(mark) >= 12 and mark in seen:
                score = 0.0  # a repeat of an earlier comment (copy-paste, double post)
            seen.add(mark)
            scores.append(score)
        return scores

    # -- the digest ----------------------------------------------------------------------

    def digest(self, facts: Facts) -> Digest:
        want = min(POINTS[self.length], len(self.own))
        big = len(self.own) >= TOPIC_THRESHOLD and self.X is not None
        points = self._topic_points(want) if big else self._comment_points(want)
        if not points:  # topics could not form (e.g. no shared words): fall back to comments
            points, big = self._comment_points(want), False
        disagreements = self._disagreements(DISAGREEMENTS[self.length])
        ranking = tuple(self.st.items[i].key for i in self.order)
        return Digest(facts, tuple(points), tuple(disagreements), self._most_replied(), big, ranking)

    def _diverse(self, want: int, pool: list[int], branch_penalty: float) -> list[int]:
        """Greedy maximal marginal relevance: good comments that say something new, in new places."""
        np = self.np
        if self.X is not None and pool:
            rows = self.X[pool]
            sims = np.asarray((rows @ rows.T).toarray())
        else:
            sims = np.zeros((len(pool), len(pool)))
        picked: list[int] = []  # positions in pool
        marks: set[str] = set()
        remaining = list(range(len(pool)))
        while remaining and len(picked) < want:
            roots = {self.st.root[pool[p]] for p in picked}
            best, best_value = -1, -math.inf
            for r in remaining:
                sim = float(sims[r, picked].max()) if picked else 0.0
                if sim >= NEAR_DUPLICATE:
                    continue
                i = pool[r]
                value = self.scores[i] - 0.5 * sim - (branch_penalty if self.st.root[i] in roots else 0.0)
                if value > best_value:
                    best, best_value = r, value
            if best < 0:
                break
            remaining.remove(best)
            mark = fingerprint(self.own[pool[best]])
            if mark in marks or self.scores[pool[best]] <= 0:
                continue
            marks.add(mark)
            picked.append(best)
        return [pool[p] for p in picked]

    def _comment_points(self, want: int) -> list[Point]:
        st = self.st
        branches = len(st.top_level)
        pool = [i for i in self.order[: max(50, want * 6)] if self.scores[i] > 0]
        picked = self._diverse(want, pool, 0.35 if branches >= want else 0.1)
        targets = {i: self._subtree_vector(i) for i in picked}
        quotes = self._quotes(picked, targets)
        used: list[str] = []
        points = []
        for i in picked:
            quote = quotes[i]
            if self._repeats(quote, used):
                continue
            used.append(quote)
            label = self._label(targets[i], fallback=quote)
            item = st.items[i]
            points.append(Point(label, item.key, item.author, quote, item.link, 1 + st.descendants[i]))
        return points

    def _topic_points(self, want: int) -> list[Point]:
        np, st, X = self.np, self.st, self.X
        n = len(self.own)
        k = min(12, max(want + 2, n // 50))
        seeds = self._diverse(k, [i for i in self.order[: k * 8] if self.scores[i] > 0], 0.0)
        if len(seeds) < 2:
            return []
        centres = self._normalize_rows(X[seeds].toarray())
        assign = np.full(n, -1)
        for _ in range(10):  # spherical k-means from fixed seeds: deterministic
            sims = np.asarray(X @ centres.T)
            new = np.where(sims.max(axis=1) > 0, sims.argmax(axis=1), -1)
            if np.array_equal(new, assign):
                break
            assign = new
            for c in range(len(seeds)):
                members = np.flatnonzero(assign == c)
                if members.size:
                    centres[c] = np.asarray(X[members].sum(axis=0)).ravel()
            centres = self._normalize_rows(centres)
        sims = np.asarray(X @ centres.T)
        clusters = []
        for c in range(len(seeds)):
            members = [int(i) for i in np.flatnonzero(assign == c)]
            if members:
                weight = sum(self.scores[i] for i in members)
                clusters.append((weight, c, members))
        clusters.sort(key=lambda t: (-t[0], t[1]))
        points: list[Point] = []
        used: list[str] = []
        for _, c, members in clusters:
            if len(points) == want:
                break
            ranked = sorted(members, key=lambda i: (-(self.scores[i] * (0.5 + 0.5 * sims[i, c])), i))
            centre = centres[c]
            for i in ranked[:8]:
                quote = self._quotes([i], {i: centre})[i]
                if self.scores[i] <= 0 or self._repeats(quote, used):
                    continue
                used.append(quote)
                item = st.items[i]
                label = self._label(centre, fallback=quote)
                points.append(Point(label, item.key, item.author, quote, item.link, len(members)))
                break
        return points

    def _normalize_rows(self, matrix: Vector) -> Vector:
        norms = self.np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: Vector = matrix / norms
        return result

    def _subtree_vector(self, i: int) -> Vector:
        """The words of a comment and the replies it drew (its own words count double)."""
        np = self.np
        if self.X is None:
            empty: Vector = np.zeros(0)
            return empty
        members = [i]
        stack = list(self.st.children[i])
        while stack:
            j = stack.pop()
            members.append(j)
            stack.extend(self.st.children[j])
        vector: Vector = np.asarray(self.X[members].sum(axis=0)).ravel() + self.X[i].toarray().ravel()
        return vector

    def _label(self, vector: Vector, fallback: str) -> str:
        if vector.size == 0 or not vector.any():
            return _short_label(fallback)
        chosen: list[str] = []
        taken: set[str] = set()
        weights = vector * self.label_boost
        for index in self.np.argsort(-weights, kind="stable")[:16]:
            if weights[index] <= 0:
                break
            term = self.terms[int(index)]
            parts = set(term.split())
            if parts & taken:
                continue
            chosen.append(term)
            taken |= parts
            if len(chosen) == 2:
                break
        if not chosen:
            return _short_label(fallback)
        forms = []
        for term in chosen:  # spelled as in (up to 20 of) the comments that use it
            column = self.terms_index[term]
            docs = self.X[:, column].nonzero()[0][:20] if self.X is not None else []
            forms.append(surface_form(term, [self.own[int(d)] for d in docs]))
        label = ", ".join(forms)
        return label[:1].upper() + label[1:]

    def _quotes(self, picked: list[int], targets: dict[int, Vector]) -> dict[int, str]:
        """The best run of sentences of each comment: the sentence closest to what its point is about,
        then the ones after it while they fit."""
        np = self.np
        split = {i: sentences(self.own[i]) or [self.own[i].strip()] for i in picked}
        flat = [s for i in picked for s in split[i]]
        vectors = self.vectorizer.transform(flat) if self.X is not None and flat else None
        quotes: dict[int, str] = {}
        offset = 0
        for i in picked:
            parts = split[i]
            target = targets.get(i)
            if vectors is not None and target is not None and target.size and len(parts) > 1:
                sims = np.asarray(vectors[offset : offset + len(parts)] @ target).ravel()
                norm = float(np.linalg.norm(target)) or 1.0
                values = [float(sims[k]) / norm + _sentence_fit(parts[k], k) for k in range(len(parts))]
                start = max(range(len(parts)), key=lambda k: (values[k], -k))
            else:
                start = 0
            offset += len(parts)
            quote = parts[start]
            for sentence in parts[start + 1 :]:
                if len(quote) + 1 + len(sentence) > QUOTE_MAX or len(quote) >= 140:
                    break
                quote += " " + sentence
            quotes[i] = quote
        return quotes

    def _repeats(self, quote: str, used: list[str]) -> bool:
        """Whether a quote says what an earlier one said (same words, or the same by TF-IDF)."""
        mark = fingerprint(quote)
        if any(mark == fingerprint(u) or (len(mark) > 20 and mark in fingerprint(u)) for u in used):
            return True
        if self.X is None or not used:
            return False
        vectors = self.vectorizer.transform([quote, *used])
        sims = (vectors[1:] @ vectors[0].T).toarray().ravel()
        return bool(sims.size and sims.max() >= NEAR_DUPLICATE)

    def _disagreements(self, want: int) -> list[Disagreement]:
        st = self.st
        found = []
        for i in range(len(self.own)):
            p = st.parent[i]
            if p < 0 or st.items[p].author.casefold() == st.items[i].author.casefold():
                continue
            strength = pushback_score(self.own[i])
            if strength >= PUSHBACK_THRESHOLD:
                found.append((strength + 0.3 * math.log1p(st.descendants[p]), i))
        found.sort(key=lambda t: (-t[0], t[1]))
        chosen: list[Disagreement] = []
        roots: set[int] = set()
        for strength, i in found:
            if len(chosen) == want:
                break
            if st.root[i] in roots:
                continue
            roots.add(st.root[i])
            p = st.parent[i]
            pushback = self._with_next(self.own[i], pushback_sentence(self.own[i]))
            claim = self._closest_sentence(self.own[p], pushback)
            reply, parent = st.items[i], st.items[p]
            chosen.append(
                Disagreement(
                    parent.key,
                    parent.author,
                    claim,
                    parent.link,
                    reply.key,
                    reply.author,
                    pushback,
                    reply.link,
                    round(strength, 3),
                )
            )
        return chosen

    @staticmethod
    def _with_next(text: str, sentence: str) -> str:
        """A short sentence keeps the one after it, so the pushback reads on its own."""
        parts = sentences(text)
        if sentence in parts and len(sentence) < 60:
            k = parts.index(sentence)
            if k + 1 < len(parts) and len(sentence) + 1 + len(parts[k + 1]) <= 200:
                return f"{sentence} {parts[k + 1]}"
        return sentence

    def _closest_sentence(self, text: str, to: str) -> str:
        """The sentence of the parent the pushback answers: the one sharing most words with it."""
        parts = sentences(text) or [text.strip()]
        if len(parts) == 1 or self.X is None:
            return _lead(text) if len(parts) > 1 else parts[0]
        vectors = self.vectorizer.transform([to, *parts])
        sims = (vectors[1:] @ vectors[0].T).toarray().ravel()
        if not sims.any():
            return parts[0]
        return parts[max(range(len(parts)), key=lambda k: (float(sims[k]), -k))]

    def _most_replied(self) -> MostReplied | None:
        st = self.st
        candidates = [i for i in range(len(self.own)) if st.descendants[i] > 0]
        if not candidates:
            return None
        i = min(candidates, key=lambda i: (-st.descendants[i], -len(st.children[i]), -st.repliers[i], i))
        item = st.items[i]
        return MostReplied(item.key, item.author, st.descendants[i], st.repliers[i], _lead(self.own[i]), item.link)


def _sentence_fit(sentence: str, position: int) -> float:
    """A quotable sentence: not a fragment, not a wall of text; the opening one is slightly preferred."""
    bonus = 0.05 if position == 0 else 0.0
    count = word_count(sentence)
    if count < 4:
        bonus -= 0.2
    if len(sentence) > 220:
        bonus -= 0.15
    return bonus


def _short_label(text: str) -> str:
    head = " ".join(text.split()[:4]).rstrip(",.;:!?")
    return head[:40] or "Comment"
