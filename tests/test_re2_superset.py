"""The RE2 test before a rule's Python pattern: it must find something wherever the Python
pattern finds a match, so that skipping the Python pattern where it finds nothing changes no
scrubbed byte."""

import re

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.common import secret_rules
from stages.common.re2_superset import re2_superset
from stages.common.scrub import Scrubber, own_secret_rules, pii_rules
from stages.common.secret_rules import gitleaks_rules, utf8_pattern
from tests.secret_corpus import ALL

RULE_SETS = {"gitleaks": gitleaks_rules, "own": own_secret_rules, "pii": pii_rules}
# Characters where Python's Unicode classes and case folding part from ASCII: the Kelvin
# sign and the long s fold to k and s, dotted and dotless i, a CJK space, Arabic-Indic and
# full-width digits, a non-breaking space, a letter with an accent.
TRICKY = "\u212a\u017f\u0130\u0131\u3000\u0663\uff14\u00a0\u00e9\n\\\"'"


@pytest.mark.parametrize("rule_set", sorted(RULE_SETS))
def test_every_rule_gets_an_re2_pattern(rule_set: str) -> None:
    for rule in RULE_SETS[rule_set]().rules:
        source = re2_superset(rule.pattern)
        assert source is not None, rule.kind
        re2.compile(source)


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"(?i)token", "TO\u212aEN"),  # Kelvin sign
        (r"(?i)secret", "\u017fecret"),  # long s
        (r"(?i)\u212a", "k"),
        (r"(?i)api", "AP\u0130"),
        (r"\w{3}", "\u00e9\u00e9\u00e9"),
        (r"\d+x", "\u0663x"),
        (r"a\sb", "a\u3000b"),
        (r"a\sb", "a\x1cb"),
        (r"(?a)[^\s]b", "\x1cb"),
        (r"[^\s\"]{3}", "abc"),
        (r"(?<![\w:.])x\b", "x"),
        (r"key$", "key\n"),
        (r"(?s:a.b)", "a\nb"),
        (r"a.b", "a\u00e9b"),
        (r"[A-Z\u00c0-\u00ff]{2}", "\u00c9\u00c9"),
        (r"(?i:[j-l]{2})", "\u212a\u212a"),
        (r"(?i)[\u2100-\u2200]", "k"),  # a non-ASCII range holding the Kelvin sign
        (r"(?i)[\x7f-\u017f]", "s"),
        (r"(?i)x[\u0100-\u2200]{3}y", "xiksy"),
        (r"x{200}", "x" * 200),
        (r"(?>ab|a)c", "abc"),
        (r"a++b", "aab"),
        (r"((a{20}){20}){20}", "a" * 8000),  # counts RE2 would multiply past its limit
        (r"((ab{12}){12}c){12}", (("a" + "b" * 12) * 12 + "c") * 12),  # 12**3 > 1000
    ],
)
def test_finds_what_python_finds(pattern: str, text: str) -> None:
    compiled = re.compile(pattern)
    assert compiled.search(text)
    source = re2_superset(compiled)
    assert source is not None
    assert utf8_pattern(source).search(text.encode())  # as the rules scan


def test_a_backreference_has_no_re2_pattern() -> None:
    assert re2_superset(re.compile(r"(a+)b\1")) is None


def test_it_still_rules_texts_out() -> None:
    """Wider, not everything: ordinary text fails the test of a key rule."""
    generic = next(r for r in gitleaks_rules().rules if r.kind == "generic_api_key")
    source = re2_superset(generic.pattern)
    assert source is not None
    assert not utf8_pattern(source).search(b"the model counted 4 tokens in this sentence")


@st.composite
def disguised(draw: st.DrawFn) -> str:
    """A corpus text with some characters changed for ones Python's classes or case folding
    treat alike, and others put in."""
    _, text, _ = draw(st.sampled_from(ALL))
    swaps = {
        "k": "\u212a",
        "s": "\u017f",
        "i": "\u0131",
        "I": "\u0130",
        " ": "\u3000",
        "1": "\u0661",
    }
    out = []
    for char in text:
        choice = draw(st.integers(0, 9))
        if choice == 0:
            out.append(swaps.get(char, char.swapcase()))
        elif choice == 1:
            out.append(char + draw(st.sampled_from(TRICKY)))
        else:
            out.append(char)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(disguised())
def test_every_rule_finds_in_re2_what_it_finds_in_python(text: str) -> None:
    for make in RULE_SETS.values():
        for rule in make().rules:
            if rule.pattern.search(text):
                source = rule.prefilter or re2_superset(rule.pattern)
                assert source is not None
                assert utf8_pattern(source).search(text.encode()), (rule.kind, text)


@settings(max_examples=200, deadline=None)
@given(disguised())
def test_scrubbing_is_the_same_with_and_without_the_re2_test(text: str) -> None:
    with_test = Scrubber().text(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secret_rules.RuleSet, "_prefilter", lambda self, index: None)
        for rules in Scrubber().rules.sets:
            patch.setattr(rules, "joined_prefilter", None)
        without = Scrubber().text(text)
    assert with_test == without
