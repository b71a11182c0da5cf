"""Which consumer check reads each format's lines, beyond its JSON Schema.

`openai` has its own pass (`openai_checks`, which also counts tokens); `unified` is the
Conversation record itself, fully described by its schema.
"""

from collections.abc import Callable, Iterator
from typing import Any

from stages.validation.alpaca_checks import check_alpaca
from stages.validation.axolotl_checks import check_axolotl_chat
from stages.validation.chatml_checks import check_chatml, check_qwen
from stages.validation.finding import Finding
from stages.validation.harmony_checks import check_harmony
from stages.validation.preference_checks import check_preference
from stages.validation.sharegpt_checks import check_sharegpt

ConsumerCheck = Callable[[dict[str, Any]], Iterator[Finding]]

CONSUMER_CHECKS: dict[str, ConsumerCheck] = {
    "alpaca": check_alpaca,
    "axolotl_chat": check_axolotl_chat,
    "chatml": check_chatml,
    "harmony": check_harmony,
    "preference": check_preference,
    "qwen": check_qwen,
    "sharegpt": check_sharegpt,
}
