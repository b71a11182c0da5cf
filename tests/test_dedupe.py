"""What counts as the same text for de-duplication: case and runs of spacing folded."""

import re
import sys

from stages.dedupe import normalize_text


def test_every_unicode_space_run_becomes_one_space_and_case_is_folded() -> None:
    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if re.fullmatch(r"\s", c))
    assert len(spaces) > 20  # \x1c-\x1f, \x85, \xa0, \u2028, \u3000 and the rest
    text = f"{spaces} Große\t\tFISH{spaces}zero\u200bwidth {spaces}"
    assert normalize_text(text) == "grosse fish zero\u200bwidth"  # U+200B is not a space
    assert normalize_text(None) == normalize_text("") == ""
