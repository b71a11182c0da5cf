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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import ahocorasick

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

    def spans(self, text: str, allow: Allowlist) -> Iterator[Span]:
        for match in self.pattern.finditer(text):
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
            if allow.allows(secret, whole) or any(a.allows(secret, whole) for a in self.allowlists):
                continue
            if self.accept is None or self.accept(match):
                yield Span(start, end, self.kind)


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
    """Rules behind one keyword automaton: a rule runs only on text holding one of its
    keywords (lower case), as in gitleaks; a rule without keywords always runs."""

    def __init__(
        self, rules: Iterable[tuple[Rule, Iterable[str]]], allow: Allowlist = NO_ALLOWLIST
    ) -> None:
        self.allow = allow
        self.rules: list[Rule] = []
        self.always: list[int] = []
        self.keywords = ahocorasick.Automaton()
        by_keyword: dict[str, list[int]] = {}
        for rule, keywords in rules:
            index = len(self.rules)
            self.rules.append(rule)
            words = [word.lower() for word in keywords]
            for word in words:
                by_keyword.setdefault(word, []).append(index)
            if not words:
                self.always.append(index)
        for word, indexes in by_keyword.items():
            self.keywords.add_word(word, tuple(indexes))
        if by_keyword:
            self.keywords.make_automaton()
        self.kinds = tuple(dict.fromkeys(rule.kind for rule in self.rules))

    def spans(self, text: str) -> Iterator[Span]:
        """Where each rule whose keyword occurs in the text finds its kind."""
        chosen = set(self.always)
        if self.keywords.kind == ahocorasick.AHOCORASICK:
            for _, indexes in self.keywords.iter(text.lower()):
                chosen.update(indexes)
        for index in sorted(chosen):
            yield from self.rules[index].spans(text, self.allow)


def gitleaks_rule(entry: dict[str, Any]) -> Rule:
    allowlists = (_allowlist(a) for a in entry.get("allowlists", ()))
    return Rule(
        entry["id"].replace("-", "_"),
        python_regex(entry["regex"]),
        entry.get("secretGroup"),
        float(entry.get("entropy", 0)),
        tuple(a for a in allowlists if a is not None),
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
