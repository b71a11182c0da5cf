"""gitleaks' maintained secret rules, run over text the way gitleaks runs them.

Each rule has keywords (a rule is tried only where one occurs), a regex, the group that
holds the secret, an entropy floor (a value too regular to be a key is left alone) and
allowlists of known non-secrets. The rules are data (stages/common/gitleaks/config.toml,
MIT): a newer gitleaks release updates them without a code change here.
"""

import functools
import math
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import ahocorasick_rs
import re2

from stages.common.re2_superset import re2_superset

CONFIG = Path(__file__).parent / "gitleaks" / "config.toml"

# A word boundary that also holds after a JSON escape: in `\nghp_…` the key starts a line.
JSON_SAFE_BOUNDARY = r"(?:\b|(?<=\\[nrt]))"
_WORD_BOUNDARY = re.compile(r"(?<!\\)((?:\\\\)*)\\b")
_UNTIL_ESCAPE = re.compile(r'[^\\"]*')
_GITLEAKS_END = r"""(?:[\x60'"\s;]|\\[nr]|$)"""  # how most rules end a value
_JSON_SAFE_END = r"""(?:[\x60'"\s;\\]|$)"""


class Span(NamedTuple):
    start: int
    end: int
    kind: str


class Allowlist(NamedTuple):
    """Values a rule must not report: by regex (on the secret or the whole match) or word."""

    regexes: tuple[re.Pattern[str], ...]
    on_match: bool
    stopwords: tuple[str, ...]

    def allows(self, secret: str, match: str) -> bool:
        target = match if self.on_match else secret
        if any(rx.search(target) for rx in self.regexes):
            return True
        lowered = secret.lower()
        return any(word in lowered for word in self.stopwords)


NO_ALLOWLIST = Allowlist((), False, ())


class Rule(NamedTuple):
    """One kind of secret: where it is (`secret_group` of `pattern`) and what it is not."""

    kind: str
    pattern: re.Pattern[str]
    secret_group: int | str | None
    entropy: float
    allowlists: tuple[Allowlist, ...]
    accept: Callable[[re.Match[str]], bool] | None = None
    spans_escapes: bool = False  # the secret may hold JSON escapes (`\n` in a key block)
    names_before: bool = False  # the match starts with the identifier ending at its keyword
    # An RE2 pattern found in every text the rule matches in, when a hand-written one is
    # more selective than the one derived from `pattern` (stages/common/re2_superset.py).
    prefilter: str | None = None

    def spans(
        self, text: str, allow: Allowlist, lo: int = 0, hi: int | None = None
    ) -> Iterator[Span]:
        """Matches within text[lo:hi] (lookbehinds still see before `lo`)."""
        for match in self.pattern.finditer(text, lo, len(text) if hi is None else hi):
            group = self.secret_group if self.secret_group is not None else _first_group(match)
            start, end = match.span(group)
            secret = match.group(group) or ""
            if not self.spans_escapes:
                # A replacement must not swallow half of a JSON escape or a closing quote.
                secret = _UNTIL_ESCAPE.match(secret).group()  # type: ignore[union-attr]
                end = start + len(secret)
            if not secret or shannon_entropy(secret) < self.entropy:
                continue
            whole = match.group(0)
            if self.names_before:
                whole = _identifier_before(text, match.start()) + whole
            if allow.allows(secret, whole) or any(a.allows(secret, whole) for a in self.allowlists):
                continue
            if self.accept is None or self.accept(match):
                yield Span(start, end, self.kind)


# A rule with keywords runs on the text around each of them: the identifier before the
# keyword and the value after it fit (values run to 150 characters in gitleaks' rules).
WINDOW_BEFORE = 80
WINDOW_AFTER = 400
_IDENTIFIER_END = re.compile(r"[\w.-]{1,50}\Z")
# gitleaks starts many rules with the identifier that ends in their keyword (`db_api_key`),
# a lazy prefix tried at every position: 96 such rules made scrubbing 50 times slower. The
# rules run without it, and the identifier is read back for the allowlists that look at it.
_IDENTIFIER_PREFIX = r"[\w.-]{0,50}?"


def _identifier_before(text: str, start: int) -> str:
    found = _IDENTIFIER_END.search(text, max(0, start - 50), start)
    return found.group() if found else ""


def without_identifier_prefix(go_regex: str) -> tuple[str, bool]:
    """The rule's regex without its leading identifier, and whether it had one."""
    flags = "(?i)" if go_regex.startswith("(?i)") else ""
    body = go_regex.removeprefix(flags)
    for opening in ("", "(?i:"):
        if body.startswith(opening + _IDENTIFIER_PREFIX):
            return flags + opening + body[len(opening + _IDENTIFIER_PREFIX) :], True
    return go_regex, False


def _first_group(match: re.Match[str]) -> int:
    """gitleaks reports the first group that matched, else the whole match."""
    return next((i for i, g in enumerate(match.groups(), 1) if g), 0)


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def python_regex(go_regex: str) -> re.Pattern[str]:
    """Compile a gitleaks (Go RE2) regex in Python.

    Go allows `(?i)` anywhere; Python only at the start, so a rule with one is compiled
    case-insensitive as a whole, which can only widen it. POSIX classes and `\\z` get
    their Python spelling. In JSON text escaped once or more (a tool output inside a
    record line), word boundaries hold after an escape and a backslash ends a value.
    """
    flags = re.IGNORECASE if "(?i)" in go_regex else 0
    source = (
        go_regex.replace("(?i)", "")
        .replace("[[:alnum:]]", "[A-Za-z0-9]")
        .replace("[:alnum:]", "A-Za-z0-9")
        .replace("\\z", "\\Z")
        .replace(_GITLEAKS_END, _JSON_SAFE_END)
    )
    source = _WORD_BOUNDARY.sub(lambda m: m.group(1) + JSON_SAFE_BOUNDARY, source)
    return re.compile(source, flags)


def _allowlist(entry: dict[str, Any]) -> Allowlist | None:
    if "paths" in entry:
        return None  # records have no file paths to allow; with AND the list never applies
    return Allowlist(
        tuple(python_regex(rx) for rx in entry.get("regexes", ())),
        entry.get("regexTarget", "secret") != "secret",
        tuple(word.lower() for word in entry.get("stopwords", ())),
    )


class RuleSet:
    """Rules a text is searched with: a rule runs only on text holding one of its keywords
    (lower case), as in gitleaks; a rule without keywords always runs. Before a rule's Python
    pattern runs on a text or on the text around its keywords, an RE2 pattern that matches
    wherever it does must find something there (RE2 scans 30-50 times faster than `re`
    through the case-insensitive words most rules open with). The keywords are found by
    `RuleSets`, for every set at once."""

    def __init__(
        self, rules: Iterable[tuple[Rule, Iterable[str]]], allow: Allowlist = NO_ALLOWLIST
    ) -> None:
        self.allow = allow
        self.rules: list[Rule] = []
        self.always: list[int] = []
        self._prefilters: dict[int, Any] = {}  # rule index → compiled RE2 pattern, or None
        by_keyword: dict[str, list[int]] = {}
        for rule, keywords in rules:
            index = len(self.rules)
            self.rules.append(rule)
            words = [word.lower() for word in keywords]
            for word in words:
                by_keyword.setdefault(word, []).append(index)
            if not words:
                self.always.append(index)
        self.keywords = list(by_keyword)  # keyword number → keyword
        self._keyword_rules = [tuple(indexes) for indexes in by_keyword.values()]
        # One RE2 pattern for the rules without keywords, where they are several: one scan
        # instead of one each, and most texts hold none (IP addresses and phone numbers: the
        # three scans took a quarter of scrubbing's time). Not across sets: joined with the
        # shape of a token or the user's secret values, RE2's DFA outgrows its memory on hex
        # and base64 text and scans slower than apart.
        sources = [self._prefilter_source(index) for index in self.always]
        self.joined_prefilter = any_of(sources) if len(sources) > 1 else None

    def spans(
        self, text: str, data: bytes, lowered: str, hits: Iterable[tuple[int, int]]
    ) -> Iterator[Span]:
        """Where each rule finds its kind: a rule with keywords only near where they occur.
        `data`: the text in UTF-8, which the RE2 patterns scan; `hits`: (keyword number,
        where it ends in `lowered`, text.lower()), ascending."""
        joined = self.joined_prefilter
        if joined is None or joined.search(data):
            for index in self.always:
                prefilter = self._prefilter(index)
                if prefilter is None or prefilter.search(data):
                    yield from self.rules[index].spans(text, self.allow)
        near: dict[int, list[tuple[int, int]]] = {}
        if len(lowered) != len(text):  # a character whose lower case is longer: look everywhere
            for keyword, _ in hits:
                near.update({i: [(0, len(text))] for i in self._keyword_rules[keyword]})
        else:
            # A text holds a keyword dozens of times: each hit costs one append here, and
            # its rules get the keyword's merged windows.
            ends: defaultdict[int, list[int]] = defaultdict(list)
            for keyword, end in hits:
                ends[keyword].append(end)
            for keyword, keyword_ends in ends.items():
                windows = _keyword_windows(keyword_ends, len(self.keywords[keyword]))
                for index in self._keyword_rules[keyword]:
                    near.setdefault(index, []).extend(windows)
        for index in sorted(near):
            yield from self._near(index, text, data, near[index])

    def _prefilter_source(self, index: int) -> str | None:
        rule = self.rules[index]
        return rule.prefilter or re2_superset(rule.pattern)

    def _prefilter(self, index: int) -> Any:
        """The rule's RE2 pattern, made when first needed: most rules never meet their keyword."""
        if index not in self._prefilters:
            source = self._prefilter_source(index)
            self._prefilters[index] = None if source is None else utf8_pattern(source)
        return self._prefilters[index]

    def _near(
        self, index: int, text: str, data: bytes, windows: list[tuple[int, int]]
    ) -> Iterator[Span]:
        """The rule's matches in the merged windows; a match that reaches a window's end may
        go on past it, so that window is searched again to the end of the text."""
        rule, prefilter = self.rules[index], self._prefilter(index)
        if rule.spans_escapes:  # a key block runs on for thousands of characters
            windows = [(windows[0][0], len(text))]
        merged: list[tuple[int, int]] = []
        for start, end in sorted(windows):
            end = min(end, len(text))
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        seen: set[Span] = set()
        ascii_text = len(data) == len(text)  # a character a byte: the same offsets
        for lo, hi in merged:
            window = data[lo:hi] if ascii_text else text[lo:hi].encode()
            if prefilter is not None and not prefilter.search(window):
                continue
            found = list(rule.spans(text, self.allow, lo, hi))
            if hi < len(text) and any(span.end >= hi for span in found):
                found = list(rule.spans(text, self.allow, lo))
            for span in found:
                if span not in seen:
                    seen.add(span)
                    yield span


def _keyword_windows(ends: list[int], size: int) -> list[tuple[int, int]]:
    """The text around a keyword's occurrences (where each ends, ascending), where its
    rules look: overlapping windows merged."""
    windows: list[tuple[int, int]] = []
    for end in ends:
        start = max(0, end - size - WINDOW_BEFORE)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end + WINDOW_AFTER)
        else:
            windows.append((start, end + WINDOW_AFTER))
    return windows


def utf8_pattern(source: str) -> Any:
    """An RE2 pattern that scans UTF-8 bytes: searched with a str, the binding encodes the
    text and maps every offset back to characters on each call, which took a third of
    scrubbing's time; a test needs neither."""
    return re2.compile(source.encode())


def any_of(patterns: Iterable[str | None]) -> Any:
    """One RE2 pattern that matches wherever one of them does; None when one is None (its
    rule runs everywhere) or there are none."""
    sources = list(patterns)
    if not sources or any(source is None for source in sources):
        return None
    return utf8_pattern("|".join(f"(?:{source})" for source in sources))


class RuleSets:
    """Rule sets searched together, in one pass of one keyword automaton for all their
    keywords: a pass over a text costs about as much as the rules' own work on it, and most
    texts hold no keyword."""

    def __init__(self, sets: Iterable[RuleSet]) -> None:
        self.sets = list(sets)
        owners: dict[str, list[tuple[int, int]]] = {}  # keyword → (set, its number there)
        for number, rules in enumerate(self.sets):
            for local, word in enumerate(rules.keywords):
                owners.setdefault(word, []).append((number, local))
        self._owners = list(owners.values())
        # DFAs: three times the speed of the default automaton on these few hundred words.
        # Most texts are ASCII, whose bytes are its characters: searched as bytes, they need
        # no map from byte to character offsets (eight bytes a byte of text).
        dfa = ahocorasick_rs.Implementation.DFA
        self._automaton, self._ascii_automaton = (
            (
                ahocorasick_rs.AhoCorasick(list(owners), implementation=dfa),
                ahocorasick_rs.BytesAhoCorasick(
                    [word.encode() for word in owners], implementation=dfa
                ),
            )
            if owners
            else (None, None)
        )

    def spans(self, text: str) -> Iterator[tuple[int, Span]]:
        """(the number of the set whose rule found it, the span), set by set."""
        lowered, data = text.lower(), text.encode()
        hits: list[list[tuple[int, int]]] = [[] for _ in self.sets]
        if self._automaton is not None and self._ascii_automaton is not None:
            found = (
                self._ascii_automaton.find_matches_as_indexes(
                    lowered.encode("ascii"), overlapping=True
                )
                if lowered.isascii()
                else self._automaton.find_matches_as_indexes(lowered, overlapping=True)
            )
            for keyword, _, end in found:
                for number, local in self._owners[keyword]:
                    hits[number].append((local, end))
        for number, rules in enumerate(self.sets):
            for span in rules.spans(text, data, lowered, hits[number]):
                yield number, span


def gitleaks_rule(entry: dict[str, Any]) -> Rule:
    allowlists = (_allowlist(a) for a in entry.get("allowlists", ()))
    regex, names_before = without_identifier_prefix(entry["regex"])
    return Rule(
        entry["id"].replace("-", "_"),
        python_regex(regex),
        entry.get("secretGroup"),
        float(entry.get("entropy", 0)),
        tuple(a for a in allowlists if a is not None),
        names_before=names_before,
    )


@functools.cache
def gitleaks_rules() -> RuleSet:
    """Every gitleaks rule with a regex (one matches file names only), and its allowlist."""
    with CONFIG.open("rb") as handle:
        config = tomllib.load(handle)
    listed = config.get("allowlist", {})
    allow = Allowlist(
        tuple(python_regex(rx) for rx in listed.get("regexes", ())),
        False,
        tuple(word.lower() for word in listed.get("stopwords", ())),
    )
    rules = [(gitleaks_rule(e), e.get("keywords", ())) for e in config["rules"] if "regex" in e]
    return RuleSet(rules, allow)
