"""Words, sentences, stop words and the cues of a reply that pushes back. Pure functions, no imports
of the heavy text-maths libraries (those load only in `extractive`).

Every comparison works on `normalize(text)`, so "don’t" (curly) and "don't" (straight) are one word and
both are stop words.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.summarize.thread import normalize

_WORD = re.compile(r"[^\W_](?:[^\W_]|'(?=[^\W_]))*")
_BREAK = re.compile(r"[^\w\s'-]+|\n|(?<!\w)'|'(?!\w)")
_NOT_ALNUM = re.compile(r"[\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")

# Contractions and their apostrophe-less spellings ("dont"), which scikit-learn's list lacks: its
# tokenizer splits "don't" into "don" and "t" instead.
_CONTRACTIONS = """
i'm i've i'd i'll you're you've you'd you'll he's he'd he'll she's she'd she'll it's it'd it'll we're we've
we'd we'll they're they've they'd they'll that's that'd that'll there's there'd there'll here's what's
what're what'd who's who'd who'll where's when's why's how's let's isn't aren't wasn't weren't hasn't
haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't can't cannot couldn't mustn't mightn't
needn't ain't y'all ma'am o'clock gonna wanna gotta
"""
# Words that fill chat without carrying a topic.
_CHAT_FILLER = """
yes yeah yep yup no nope nah ok okay oh ah ha haha lol lmao wow hey hi hello thanks thank thx pls please
just really actually honestly basically literally totally pretty quite maybe probably sure think thought
thinking know knew say said says saying going get got gets getting like liked make made lot lots thing
things way ways want wanted need needs one ones two also even still well much many good great bad right
ve ll re don doesn didn isn wasn aren weren won wouldn shouldn couldn
do does did doing done come comes coming came go goes went gone see sees saw seen look looks looked let lets
take takes took taken give gives gave given use uses used put puts tell tells told keep keeps kept
people person everyone someone anyone anything something everything guy guys stuff kind sort bit
time times day days year years today tonight now ago called
article articles story post posts comment comments thread threads reply replies video piece link url
"""


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words plus contractions (straight apostrophe) and chat filler."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = set(ENGLISH_STOP_WORDS) | set(_CONTRACTIONS.split()) | set(_CHAT_FILLER.split())
    words |= {w.replace("'", "") for w in _CONTRACTIONS.split()}
    return frozenset(words)


def words(text: str) -> list[str]:
    """Lowercase words of a text, apostrophes inside words kept ("don't", "o'malley")."""
    return _WORD.findall(normalize(text).casefold())


def content_terms(text: str, stop: frozenset[str]) -> list[str]:
    """Unigrams and bigrams for TF-IDF: stop words, numbers and one-letter words dropped, "'s" cut off.

    A bigram is two content words that stood side by side (never across a dropped word).
    """
    terms: list[str] = []
    append = terms.append
    # Punctuation and line breaks end a run of words: no bigram across them.
    for run in _BREAK.split(normalize(text).casefold()):
        previous: str | None = None
        for word in _WORD.findall(run):
            if word in stop:
                previous = None
                continue
            if word.endswith("'s"):
                word = word[:-2]
            if len(word) < 2 or word.isdigit() or word in stop:
                previous = None
                continue
            append(word)
            if previous is not None:
                append(f"{previous} {word}")
            previous = word
    return terms


def sentences(text: str) -> list[str]:
    """Sentences (and lines) of a plain text, whitespace collapsed, empty ones dropped."""
    parts = (" ".join(p.split()) for p in _SENTENCE_END.split(text))
    return [p for p in parts if p]


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def fingerprint(text: str) -> str:
    """Letters and digits only, lowercased: equal for texts that differ in case, spacing and punctuation."""
    return _NOT_ALNUM.sub("", normalize(text).casefold())


def surface_form(term: str, texts: list[str]) -> str:
    """How a (lowercased) term is usually written in the texts: "putin" → "Putin", "nato" → "NATO"."""
    pattern = re.compile(r"(?<![^\W_])" + r"[\s-]+".join(re.escape(w) for w in term.split()) + r"(?![^\W_])", re.I)
    counts: dict[str, int] = {}
    for text in texts:
        for match in pattern.finditer(normalize(text)):
            form = " ".join(match.group(0).split())
            counts[form] = counts.get(form, 0) + 1
            if sum(counts.values()) >= 20:
                break
    if not counts:
        return term
    if term in counts:  # written in lowercase somewhere: capitals were only sentence openings
        return term
    return min(counts, key=lambda f: (-counts[f], f))  # "Putin", "NATO": always written so


# -- pushback ------------------------------------------------------------------------------

_STRONG = re.compile(
    r"\b(i (?:strongly |completely |totally )?disagree|disagree|not true|untrue|not the case|that'?s (?:wrong|false|"
    r"not (?:true|right|fair|what|how))|you'?re wrong|(?:is|are|was) wrong|nonsense|rubbish|baseless|"
    r"(?:any|actual|no) evidence|do(?:n't| not) agree|not at all|on the contrary|not fair|isn'?t fair|"
    r"let'?s not pretend|misleading|(?:a|the) myth|simply false|(?:do you have|got) (?:a )?source|"
    r"that'?s not how|doesn'?t mean|not really)\b"
)
_OPENING_NO = re.compile(r"^\W*(no|nope|nah|wrong|false|incorrect)\b(?!\s+(?:argument|doubt|problem|worries|question))")
_CONTRADICTS = re.compile(
    r"^\W*(?:(?:it|that|this|he|she|they)(?:'s| is| was|'re| are| were) not"
    r"|(?:it|that|this|he|she|they) (?:isn't|wasn't|aren't|weren't|doesn't|didn't|won't)"
    r"|not (?:everything|everyone|all|really|quite)|there (?:is|was)n't|(?:it|he|she|they) (?:has|had|does|did) )"
)
_CORRECTION = re.compile(r"\w, not (?:the |a |an |just )?\w")
_CONTRAST = re.compile(
    r"\b(but|though|although|however|still|yet|actually|instead|rather|whereas|to be fair|only when)\b"
)
_NEGATION = re.compile(r"\b(not|no|never|nothing|nobody|none|\w+n't|cannot)\b")
_AGREE_OPENING = re.compile(
    r"^\W*(exactly|agreed|same|true|indeed|yes|yep|absolutely|definitely|correct|thanks|thank you|"
    r"no argument|no doubt|fair point|good point|well put|fair enough|\+1)\b"
)
_AGREE = re.compile(
    r"(?<!n't )(?<!not )\b(i (?:completely |totally |fully )?agree|agreed|good point|fair point|well put|"
    r"thank you|thanks|you'?re right|couldn'?t agree more|well said)\b"
)


def pushback_score(reply_text: str) -> float:
    """How strongly a reply (its own words, without the leading "@Name") contradicts what it answers.

    Explicit cues ("I disagree", "not true", an opening "No"), a contradicting opening ("It wasn't…",
    "Not everything…"), corrections ("X, not Y"), contrast words and negations add up; agreement and
    thanks take away. 1.25 or more reads as pushback.
    """
    text = " ".join(normalize(reply_text).casefold().split())
    if not text:
        return 0.0
    score = 2.0 * len(_STRONG.findall(text))
    if _OPENING_NO.search(text):
        score += 2.0
    score += sum(1.5 for s in sentences(text) if _CONTRADICTS.search(s))
    score += min(2.0, 1.0 * len(_CORRECTION.findall(text)))
    score += min(1.5, 0.75 * len(_CONTRAST.findall(text)))
    score += min(1.0, 0.5 * len(_NEGATION.findall(text)))
    if _AGREE_OPENING.search(text):
        score -= 1.5
    score -= 1.0 * len(_AGREE.findall(text))
    return score


def pushback_sentence(reply_text: str) -> str:
    """The sentence of a reply that carries its pushback (the first one if none stands out)."""
    found = sentences(reply_text)
    if not found:
        return ""
    best = max(range(len(found)), key=lambda k: (pushback_score(found[k]), -k))
    return found[best]


PUSHBACK_THRESHOLD = 1.25
