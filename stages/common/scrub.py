"""Secrets and personal data out of every text, replaced by `[REDACTED:<kind>]`.

Three rule sets: gitleaks' maintained rules for provider keys (stages/common/secret_rules.py),
our own for what people paste that is not a random key and for personal data
(stages/common/scrub_patterns.py), and the values of the secret variables the user names.
Records are scrubbed where they are made (docs/privacy.md); curate checks again.
"""

import functools
import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator

import msgspec

from stages.common.scrub_patterns import PII_RULES, SECRET_RULES
from stages.common.secret_rules import Rule, RuleSet, RuleSets, Span, gitleaks_rules


@functools.cache
def own_secret_rules() -> RuleSet:
    return RuleSet(SECRET_RULES)


@functools.cache
def pii_rules() -> RuleSet:
    return RuleSet(PII_RULES)


def known_value_rules(values: Iterable[str]) -> RuleSet:
    """The values themselves, raw and as JSON writes them (`a"b` as `a\\"b`)."""
    forms = sorted({form for v in values if len(v) >= 8 for form in (v, json_escaped(v))})
    if not forms:
        return RuleSet([])
    pattern = re.compile("(?P<v>" + "|".join(map(re.escape, sorted(forms, key=len)[::-1])) + ")")
    return RuleSet([(Rule("env_secret", pattern, "v", 0.0, (), spans_escapes=True), ())])


@functools.cache
def rule_sets(known_values: tuple[str, ...], secrets: bool, pii: bool) -> RuleSets:
    """Made once a process for each choice: their keyword automaton takes 1.6 ms to build,
    and curate makes two scrubbers a chunk."""
    return RuleSets(
        [
            known_value_rules(known_values),
            *((gitleaks_rules(), own_secret_rules()) if secrets else ()),
            *((pii_rules(),) if pii else ()),
        ]
    )


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_safe(text: str) -> str:
    """The text with each lone surrogate read as U+FFFD, one character for one, so the
    places found in it are places in the text. `json.loads` makes one of a `\\ud83d` escape
    (an emoji cut in half); RE2 and the keyword automaton take only what UTF-8 can encode."""
    if text.isascii() or not LONE_SURROGATE.search(text):
        return text
    return LONE_SURROGATE.sub("\ufffd", text)


class Scrubber:
    """Replaces every secret and piece of personal data with `[REDACTED:<kind>]`, by kind.

    A replacement holds no quote or backslash and a match never spans one, so text that
    is JSON (a record line, a tool's arguments) stays valid JSON.
    """

    def __init__(
        self, *, secrets: bool = True, pii: bool = True, known_values: Iterable[str] = ()
    ) -> None:
        self.rules = rule_sets(tuple(sorted(set(known_values))), secrets, pii)
        self.counts: Counter[str] = Counter()

    def spans(self, text: str) -> Iterator[Span]:
        """Every match, overlaps merged: the earliest start names the kind, secrets before PII."""
        text = utf8_safe(text)
        found = sorted(
            (span.start, order, -span.end, span) for order, span in self.rules.spans(text)
        )
        current: Span | None = None
        for *_, span in found:
            if current is not None and span.start < current.end:
                current = current._replace(end=max(current.end, span.end))
                continue
            if current is not None:
                yield current
            current = span
        if current is not None:
            yield current

    def text(self, text: str | None) -> str | None:
        if not text:
            return text
        pieces, last = [], 0
        for span in self.spans(text):
            pieces += [text[last : span.start], f"[REDACTED:{span.kind}]"]
            self.counts[span.kind] += 1
            last = span.end
        return "".join([*pieces, text[last:]]) if pieces else text

    def line(self, line: bytes) -> bytes:
        """A JSON line with every secret replaced inside its strings (at the door)."""
        text = line.decode()
        scrubbed = self.text(text)
        return line if scrubbed is text else (scrubbed or "").encode()

    def lines(self, data: bytes) -> bytes:
        return b"\n".join(self.line(line) for line in data.split(b"\n"))


@functools.cache
def _path_scrubber() -> Scrubber:
    return Scrubber(secrets=False)


def private_path(path: str) -> str:
    """A path as an output may name it (a part's name, an input's fingerprint, a reject's
    file): personal data such as the user name of a home folder (`-home-dana-app/`)
    replaced, and then a hash of the original appended, so two users' files keep two names."""
    scrubbed = _path_scrubber().text(path) or path
    if scrubbed == path:
        return path
    return f"{scrubbed}~{hashlib.sha256(path.encode()).hexdigest()[:12]}"


def json_escaped(value: str) -> str:
    """How a value reads inside JSON text (a tool result, arguments): `a"b` as `a\\"b`."""
    return msgspec.json.encode(value).decode()[1:-1]


def environment_secrets(names: Iterable[str]) -> list[str]:
    """The values of the named environment variables that are set: never logged, only matched."""
    return [os.environ[name] for name in names if os.environ.get(name)]


SECRET_NAME_SUFFIXES = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD")


def secret_like_environment() -> list[str]:
    """Values of variables named like credentials (`*_TOKEN`, `*_API_KEY`, ...).

    Used on diagnostics (rejects excerpts), never on training text: a variable
    such as `DEPLOY_KEY=production` would otherwise redact an ordinary word.
    """
    names = [name for name in os.environ if name.upper().endswith(SECRET_NAME_SUFFIXES)]
    return environment_secrets(sorted(names))
