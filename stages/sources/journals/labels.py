"""The label words a journal uses to mark its parts, and how to spot them.

Journals are written by hand, so the same part goes by many names ("Root cause",
"Cause", "Why"; "Fix", "Solution", "Workaround"). Each vocabulary below maps a
lower-cased label to the part it marks. Matching is done on one heading title,
one paragraph's first words or one fence's info string at a time: never over
the whole text.
"""

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["problem", "root_cause", "fix", "lesson", "anti", "bad", "good"]
CHAIN_KINDS: frozenset[Kind] = frozenset({"problem", "root_cause", "fix", "lesson"})
CODE_KINDS: frozenset[Kind] = frozenset({"bad", "good"})

VOCABULARY: dict[Kind, tuple[str, ...]] = {
    "problem": (
        "problem",
        "the problem",
        "issue",
        "symptom",
        "symptoms",
        "bug",
        "what happened",
        "observed",
        "error",
    ),
    "root_cause": (
        "root cause",
        "root-cause",
        "the root cause",
        "cause",
        "why",
        "diagnosis",
        "reason",
        "analysis",
        "root cause analysis",
    ),
    "fix": (
        "fix",
        "the fix",
        "fixed",
        "fixed by",
        "solution",
        "resolution",
        "workaround",
        "remedy",
        "how i fixed it",
        "what worked",
    ),
    "lesson": (
        "lesson",
        "lessons",
        "lesson learned",
        "lessons learned",
        "takeaway",
        "takeaways",
        "key insight",
        "insight",
    ),
    "anti": (
        "anti-pattern",
        "anti-patterns",
        "antipattern",
        "antipatterns",
        "anti pattern",
        "don't",
        "dont",
        "do not",
        "avoid",
        "never",
        "pitfall",
        "pitfalls",
    ),
    "bad": ("bad", "wrong", "before", "incorrect", "broken", "don't", "dont", "do not", "avoid"),
    "good": ("good", "right", "after", "correct", "better", "fixed", "do", "instead"),
}

# "Don't"/"Avoid" mark both an anti-pattern and a bad code block: which one is
# decided by what follows (a fence makes it a bad block).
AMBIGUOUS_ANTI_BAD = frozenset({"don't", "dont", "do not", "avoid"})

# Labels that read as the start of a sentence ("Never force-push main") rather
# than a tag ("Anti-pattern:"): kept in the rendered statement.
ANTI_VERBS = frozenset({"don't", "dont", "do not", "avoid", "never"})

BAD_MARKS = ("❌", "🚫", "✗", "✘")
GOOD_MARKS = ("✅", "✔️", "✔", "👍")

_LABEL_WORDS = sorted(
    {word for words in VOCABULARY.values() for word in words}, key=len, reverse=True
)
_WORDS = "|".join(re.escape(word) for word in _LABEL_WORDS)
_MARKS = "|".join(re.escape(mark) for mark in (*BAD_MARKS, *GOOD_MARKS))
# `**Label:** rest`, `**Label**: rest`, `__Label__ - rest`, `*Label:* rest`, `Label: rest`,
# optionally after a ❌/✅ mark. Group `bold` tells a tag from a plain word.
_LABEL_RE = re.compile(
    rf"^(?P<mark>(?:{_MARKS})\s*)?"
    rf"(?:(?P<bold>\*\*|__|\*|_)(?P<bword>{_WORDS})\s*:?\s*(?P=bold)\s*[:\-\u2013\u2014]?"
    rf"|(?P<word>{_WORDS})(?P<sep>\s*:|\s+[-\u2013\u2014]\s|\s|$))\s*",
    re.IGNORECASE,
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})
_DATE_PREFIX = re.compile(
    r"^\[?\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\]?\s*(?:[:\-\u2013\u2014|]\s*)?"
)


@dataclass(frozen=True)
class Label:
    """A recognised label: its candidate kinds, the word as written, and the text after it."""

    kinds: frozenset[Kind]
    word: str
    rest: str
    tagged: bool  # bold, a colon or a mark: unmistakably a label, not a sentence's first word


def normalize(text: str) -> str:
    return " ".join(text.translate(_APOSTROPHES).lower().split())


def kinds_of(word: str) -> frozenset[Kind]:
    word = normalize(word)
    return frozenset(kind for kind, words in VOCABULARY.items() if word in words)


def _mark_kinds(mark: str) -> frozenset[Kind]:
    return frozenset({"bad"}) if mark.strip() in BAD_MARKS else frozenset({"good"})


def find_label(text: str) -> Label | None:
    """The label that opens `text`, if any (a heading title, a paragraph, a list item)."""
    text = text.translate(_APOSTROPHES).strip()
    match = _LABEL_RE.match(text)
    if match is None:
        stripped = text.lstrip()
        for mark in (*BAD_MARKS, *GOOD_MARKS):
            if stripped.startswith(mark):
                rest = stripped[len(mark) :].strip()
                return Label(_mark_kinds(mark), mark, rest, tagged=True)
        return None
    word = match.group("bword") or match.group("word")
    rest = text[match.end() :].strip()
    kinds = kinds_of(word)
    if match.group("mark"):
        kinds = _mark_kinds(match.group("mark"))
        if not (match.group("bold") or ":" in (match.group("sep") or "")):
            rest = text[match.end("mark") :].strip()  # "❌ Wrong way" is prose after a mark
    tagged = bool(match.group("mark") or match.group("bold") or ":" in (match.group("sep") or ""))
    return Label(kinds, normalize(word), rest, tagged)


_HARD_BREAK = re.compile(r"(?:\\| {2,})$")


def split_at_tags(text: str) -> list[tuple[int, str]]:
    """`text` cut before each line that opens with a tag, as (line offset, piece).

    A paragraph of "**Problem:** …" and "**Fix:** …" on consecutive lines is
    one paragraph to markdown; to its writer it is two labels. Lines inside a
    code fence are never cut, and a hard break ending the line before a cut goes.
    """
    pieces: list[tuple[int, list[str]]] = [(0, [])]
    fence = ""
    for offset, line in enumerate(text.split("\n")):
        stripped = line.strip()
        if fence and stripped.startswith(fence):
            fence = ""
        elif stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif not fence and pieces[-1][1] and (label := find_label(stripped)) and label.tagged:
            pieces[-1][1][-1] = _HARD_BREAK.sub("", pieces[-1][1][-1])
            pieces.append((offset, []))
        pieces[-1][1].append(line)
    return [(offset, "\n".join(lines)) for offset, lines in pieces]


def title_label(title: str) -> Label | None:
    """A heading's label: the whole title, or its first words before a colon or a verb phrase."""
    label = find_label(clean_title(title))
    if label is None:
        return None
    if label.tagged or not label.rest or label.kinds & {"anti"}:
        return label
    return None


def clean_title(title: str) -> str:
    """A heading without its leading date stamp: "2024-05-01 — Bank bug" → "Bank bug"."""
    return _DATE_PREFIX.sub("", title.strip()).strip()


def fence_label(info: str, code: str) -> tuple[Kind | None, str, str]:
    """The bad/good label of a fenced block, from its info string or a first-line comment.

    Returns (kind, code without a label-only comment line, the comment's explanation).
    """
    info_kind = _info_kind(info)
    if info_kind is not None:
        return info_kind, code, ""
    first, _, remainder = code.partition("\n")
    comment = _comment_text(first)
    if comment is None:
        return None, code, ""
    label = find_label(comment)
    if label is None or not (label.kinds & CODE_KINDS) or not (label.tagged or not label.rest):
        return None, code, ""
    kind: Kind = "bad" if "bad" in label.kinds else "good"
    return kind, remainder, label.rest


def _info_kind(info: str) -> Kind | None:
    if any(mark in info for mark in BAD_MARKS):
        return "bad"
    if any(mark in info for mark in GOOD_MARKS):
        return "good"
    for word in re.split(r"[\s{}.=:\"',#]+", normalize(info)):
        if word in VOCABULARY["bad"]:
            return "bad"
        if word in VOCABULARY["good"]:
            return "good"
    return None


_COMMENT_RE = re.compile(r"^\s*(?:#+|//+|--|;+|/\*+|<!--|%)\s*(?P<text>.*?)\s*(?:\*/|-->)?\s*$")


def _comment_text(line: str) -> str | None:
    match = _COMMENT_RE.match(line)
    return match.group("text") if match else None


def fence_language(info: str) -> str:
    """The language word of a fence's info string ("python bad" → "python")."""
    words = info.strip().split()
    return words[0].strip("{}.").lower() if words else ""
