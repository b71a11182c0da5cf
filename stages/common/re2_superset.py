"""An RE2 pattern that matches wherever a Python pattern does: a fast test before the slow one.

Python's `re` tries a case-insensitive alternation of words (`(?i)token|secret|…`) at every
position; RE2 scans the same text as an automaton, many times faster. A text in which the
RE2 pattern finds nothing cannot hold a match of the Python pattern, so the Python pattern
runs only where RE2 finds something, and what is reported is still exactly what `re` finds.

The translation walks Python's own parse of the pattern and widens what RE2 cannot say:
lookarounds, word boundaries and anchors become empty, backtracking controls plain groups,
long counted repeats open-ended. Python's classes are Unicode-aware and RE2's differ, so
every non-ASCII character is let through wherever a class or a case-insensitive letter
could match one; in ASCII both engines agree exactly. A pattern with a construct that has
no wider form (a backreference) gets no RE2 pattern.
"""

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Iterable

Ranges = list[tuple[int, int]]

NON_ASCII: Ranges = [(0x80, 0xD7FF), (0xE000, 0x10FFFF)]  # UTF-8 text holds no surrogates
EVERY_CHAR: Ranges = [(0, 0x7F), *NON_ASCII]
ESCAPES = {"DIGIT": r"\d", "NOT_DIGIT": r"\D", "WORD": r"\w", "NOT_WORD": r"\W"} | {
    "SPACE": r"\s",
    "NOT_SPACE": r"\S",
}
# The ASCII members of each class (by name, and whether the pattern is in ASCII mode), as
# Python itself answers: ASCII mode leaves \x1c-\x1f out of \s.
CATEGORY_ASCII = {
    (name, ascii_mode): frozenset(
        c for c in range(0x80) if re.fullmatch(escape, chr(c), re.ASCII if ascii_mode else 0)
    )
    for name, escape in ESCAPES.items()
    for ascii_mode in (False, True)
}
ASCII_LETTERS = frozenset(c for c in range(0x80) if chr(c).isalpha())
MAX_COUNT = 16  # a repeat counted higher is written open-ended: RE2 copies it once per count
# RE2 refuses a pattern whose nested counts multiply past 1000 (each count its maximum, or
# its minimum when open-ended); a count that would pass it is written open-ended and lower.
MAX_NESTED_COUNT = 1000


class Untranslatable(Exception):
    """A construct with no wider RE2 form."""


def re2_superset(pattern: re.Pattern[str]) -> str | None:
    """An RE2 pattern that finds a match in every text where `pattern` finds one."""
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
        return _sequence(parsed, parsed.state.flags, MAX_NESTED_COUNT)
    except Untranslatable:
        return None


def _sequence(items: Iterable[tuple[object, object]], flags: int, budget: int) -> str:
    """`budget`: how far counts inside may still multiply before RE2 refuses the pattern."""
    return "".join(_item(op, value, flags, budget) for op, value in items)


def _item(op: object, value: object, flags: int, budget: int) -> str:
    ignore_case = bool(flags & re.IGNORECASE)
    if op is sre.LITERAL:
        return _class(_wide_chars([value], ignore_case))  # type: ignore[list-item]
    if op is sre.NOT_LITERAL:
        return _class(_complement(_as_ranges({value})))  # type: ignore[arg-type]
    if op is sre.ANY:
        return _class(EVERY_CHAR if flags & re.DOTALL else _complement([(0x0A, 0x0A)]))
    if op is sre.IN:
        return _class(_in(value, ignore_case, bool(flags & re.ASCII)))  # type: ignore[arg-type]
    if op is sre.BRANCH:
        _, alternatives = value  # type: ignore[misc]
        return "(?:" + "|".join(_sequence(a, flags, budget) for a in alternatives) + ")"
    if op is sre.SUBPATTERN:
        _, add, remove, body = value  # type: ignore[misc]
        return "(?:" + _sequence(body, (flags | add) & ~remove, budget) + ")"
    if op is sre.ATOMIC_GROUP:
        return "(?:" + _sequence(value, flags, budget) + ")"  # type: ignore[arg-type]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        low, high, body = value  # type: ignore[misc]
        count, factor = _count(low, high, budget)
        return "(?:" + _sequence(body, flags, budget // max(factor, 1)) + ")" + count
    if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
        return ""  # a position test: without it the pattern matches more, never less
    raise Untranslatable(str(op))


def _count(low: int, high: int, budget: int) -> tuple[str, int]:
    """The repeat in RE2, never narrower than {low,high}, and the factor RE2 counts it as."""
    limit = min(MAX_COUNT, budget)
    if high == sre.MAXREPEAT or high > limit:
        low = min(low, limit)
        return f"{{{low},}}", low
    return f"{{{low},{high}}}", high


def _in(items: list[tuple[object, object]], ignore_case: bool, ascii_mode: bool) -> Ranges:
    """A class: its members widened, or for `[^…]` the complement of its exact ASCII part."""
    if items and items[0][0] is sre.NEGATE:
        exact: set[int] = set()
        for op, value in items[1:]:
            if op is sre.LITERAL:
                exact.add(value)  # type: ignore[arg-type]
            elif op is sre.RANGE:
                low, high = value  # type: ignore[misc]
                exact.update(c for c in range(low, high + 1) if c < 0x80)
            elif op is sre.CATEGORY:
                exact |= _category(value, ascii_mode)
            else:
                raise Untranslatable(str(op))
        return _complement(_as_ranges(exact))
    chars: list[int] = []
    wide = False
    for op, value in items:
        if op is sre.LITERAL:
            chars.append(value)  # type: ignore[arg-type]
        elif op is sre.RANGE:
            low, high = value  # type: ignore[misc]
            chars.extend(range(low, min(high, 0x7F) + 1))
            if high >= 0x80:
                wide = True
                # a non-ASCII member may fold to an ASCII letter (the Kelvin sign to k)
                chars.extend(ASCII_LETTERS if ignore_case else ())
        elif op is sre.CATEGORY:
            # Unicode digits, letters and spaces; the letters that fold to ASCII are
            # word characters, whose ASCII letters are members already
            chars.extend(_category(value, ascii_mode))
            wide = True
        else:
            raise Untranslatable(str(op))
    return _merge(_wide_chars(chars, ignore_case) + (NON_ASCII if wide else []))


def _category(category: object, ascii_mode: bool) -> frozenset[int]:
    name = category.name.removeprefix("CATEGORY_")  # type: ignore[attr-defined]
    if name not in ESCAPES:
        raise Untranslatable(name)
    return CATEGORY_ASCII[name, ascii_mode]


def _wide_chars(chars: list[int], ignore_case: bool) -> Ranges:
    """These characters, and under IGNORECASE their other case and every non-ASCII character
    (Python folds the Kelvin sign, the long s and the dotted and dotless i to ASCII letters)."""
    exact = set(chars)
    if not ignore_case:
        return _as_ranges(exact)
    cased = {c for c in exact if c >= 0x80 or chr(c).lower() != chr(c).upper()}
    exact |= {ord(chr(c).swapcase()) for c in cased if c < 0x80}
    if any(c >= 0x80 for c in cased):
        exact |= ASCII_LETTERS  # K folds to k
    return _merge(_as_ranges(exact) + (NON_ASCII if cased else []))


def _as_ranges(chars: set[int]) -> Ranges:
    out: Ranges = []
    for c in sorted(chars):
        if 0xD800 <= c <= 0xDFFF:
            continue
        if out and out[-1][1] == c - 1:
            out[-1] = (out[-1][0], c)
        else:
            out.append((c, c))
    return out


def _merge(ranges: Ranges) -> Ranges:
    out: Ranges = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def _complement(ranges: Ranges) -> Ranges:
    """Every character (surrogates aside) outside these ranges."""
    out: Ranges = []
    for low, high in EVERY_CHAR:
        start = low
        for a, b in _merge(ranges):
            if b < start or a > high:
                continue
            if a > start:
                out.append((start, a - 1))
            start = max(start, b + 1)
        if start <= high:
            out.append((start, high))
    return out


def _class(ranges: Ranges) -> str:
    if not ranges:
        return "[^\\x{0}-\\x{10ffff}]"  # matches nothing, as the class it stands for
    return "[" + "".join(_range(low, high) for low, high in ranges) + "]"


def _range(low: int, high: int) -> str:
    return f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}"
