"""What each example trains: the one place that decides which turns are training targets.

Every export format follows the `Plan` of a conversation (docs/contract.md says the same in
prose, with the table per example type):

- A turn known to be wrong is never a target: a call the user refused, a failed call that
  the assistant itself retried successfully, a reply after a failed tool result in a record
  labelled negative or tagged `unsupported_claim`, the problem turn of any other negative
  record (the turn a later user message pushed back on, else its last turn), the first
  attempt of a code_correction. Turns given `weight: 0` by their source (earlier Discord
  replies shown as context) are not targets either.
- A negative record trains its correction: the annotation's `correction` in place of the
  problem turn (the conversation ends there), or the later turn that fixed it. A negative
  record with neither is left out of SFT (`negative_without_correction`).
- Authored lessons (journals, and examples enrich derives, tagged `derived`) are answers
  written as the assistant should speak: every assistant turn is a target, whatever the label.
- A conversation trains up to its last target: trailing tool, user or masked turns are cut.
- Formats with a per-turn mask (openai `weight`, axolotl `train`) show every kept turn and
  mask the rest. Formats without one see the `clean` view, in which every assistant turn is a
  target: a wrong turn that was fixed later is left out with everything up to its fix, a
  refused call the user followed up is left out with its result, the conversation stops
  before any other wrong turn, and context turns that cannot be masked refuse the record.
- A preference pair is built only from a wrong turn that has a correction: `prompt` is what
  came before the wrong turn, `chosen` the correction, `rejected` the wrong turn.
"""

from typing import Literal

import msgspec

from schemas.conversation import Conversation, Message
from stages.common.tool_results import failure_message, refused_by_user
from stages.formats.format_helpers import Unexportable

AUTHORED_SOURCES = frozenset({"journals"})
AUTHORED_TAG = "derived"
CLAIM_TAG = "unsupported_claim"

REASONS = {
    "negative_without_correction": "a negative example with no correction: nothing right to "
    "learn (add a `correction` in data/annotations.yaml)",
    "nothing_to_learn": "no assistant turn is a training target",
    "context_turn_unmaskable": "an assistant turn shown only as context cannot be masked in "
    "this format",
    "wrong_turn_unmaskable": "the first assistant turn is wrong and this format cannot mask it",
    "no_wrong_turn": "no assistant turn is known to be wrong",
    "no_correction": "the wrong turn has no correction",
    "no_prompt": "the wrong turn answers no user message",
}

Wrong = Literal["refused_call", "retried_failure", "false_claim", "negative", "first_attempt"]


class Pair(msgspec.Struct, frozen=True):
    prompt: list[Message]
    chosen: Message
    rejected: Message


class Plan(msgspec.Struct, frozen=True):
    """How one conversation trains.

    `messages` is what formats with a per-turn mask show, `targets` the indices in it that
    carry loss; `clean` is the view for formats without a mask. A `*_refused` reason says why
    that kind of format leaves the record out. `wrong` holds the indices of the wrong turns
    in the conversation's own messages.
    """

    messages: list[Message]
    targets: frozenset[int]
    wrong: frozenset[int] = frozenset()
    refused: str | None = None
    clean: list[Message] | None = None
    clean_refused: str | None = None
    pair: Pair | None = None
    pair_refused: str | None = None


def authored(conv: Conversation) -> bool:
    return conv.source in AUTHORED_SOURCES or AUTHORED_TAG in conv.labels.tags


def _results(messages: list[Message]) -> dict[str, str | None]:
    return {m.tool_call_id: m.content for m in messages if m.role == "tool" and m.tool_call_id}


def _failed(results: dict[str, str | None]) -> frozenset[str]:
    """The ids of the calls whose result is a failure."""
    return frozenset(i for i, content in results.items() if failure_message(content) is not None)


def _assistants(messages: list[Message]) -> list[int]:
    return [i for i, m in enumerate(messages) if m.role == "assistant"]


def _retry(
    messages: list[Message], index: int, results: dict[str, str | None], failed: frozenset[str]
) -> int | None:
    """The later assistant turn that called the failed tool again, differently, and succeeded."""
    failures = [c for c in messages[index].tool_calls or () if c.id in failed]
    if not failures:
        return None
    for later in range(index + 1, len(messages)):
        if messages[later].role != "assistant":
            continue
        for call in messages[later].tool_calls or ():
            if (
                call.id in results
                and call.id not in failed
                and any(
                    call.function.name == f.function.name
                    and call.function.arguments != f.function.arguments
                    for f in failures
                )
            ):
                return later
    return None


def wrong_turns(conv: Conversation) -> tuple[dict[int, Wrong], dict[int, int]]:
    """The assistant turns known to be wrong, and for those corrected later in the same
    conversation, the index of the turn that corrects them."""
    messages = conv.messages
    if authored(conv):
        return {}, {}
    results = _results(messages)
    failed = _failed(results)
    wrong: dict[int, Wrong] = {}
    fixes: dict[int, int] = {}
    after_failure = False
    claims = conv.labels.example_type == "negative" or CLAIM_TAG in conv.labels.tags
    for i, m in enumerate(messages):
        if m.role == "tool":
            after_failure = after_failure or failure_message(m.content) is not None
            continue
        if m.role != "assistant":
            continue
        calls = m.tool_calls or []
        if any(refused_by_user(results.get(c.id)) for c in calls):
            wrong[i] = "refused_call"
        elif calls and (retry := _retry(messages, i, results, failed)) is not None:
            wrong[i], fixes[i] = "retried_failure", retry
        elif claims and after_failure and not calls and (m.content or "").strip():
            wrong[i] = "false_claim"
            claims = False  # the first reply after the failure is the claim
        if calls:
            after_failure = False
    if not wrong and conv.labels.example_type in ("negative", "code_correction"):
        wrong.update(_labelled_problem(conv, fixes))
    return wrong, fixes


def _labelled_problem(conv: Conversation, fixes: dict[int, int]) -> dict[int, Wrong]:
    """Where a negative or code_correction label puts the bad turn when nothing else shows it.

    With a user message after an assistant turn, the turn that message pushed back on is the
    problem and the first assistant turn after it the fix; a code_correction's first attempt
    is corrected by its next assistant turn; otherwise a negative's last turn is the problem.
    """
    messages = conv.messages
    assistants = _assistants(messages)
    if not assistants:
        return {}
    if conv.labels.example_type == "code_correction":
        if len(assistants) < 2:
            return {}
        fixes[assistants[0]] = assistants[1]
        return {assistants[0]: "first_attempt"}
    pushback = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    before = [i for i in assistants if i < pushback]
    after = [i for i in assistants if i > pushback]
    if before and after:
        fixes[before[-1]] = after[0]
        return {before[-1]: "negative"}
    return {assistants[-1]: "negative"}


def _problem(conv: Conversation, wrong: dict[int, Wrong]) -> int | None:
    """The turn an annotation's correction replaces: the first wrong turn that is not a
    retried failure, else the last assistant turn."""
    for i in sorted(wrong):
        if wrong[i] != "retried_failure":
            return i
    assistants = _assistants(conv.messages)
    return assistants[-1] if assistants else None


def problem_turn(conv: Conversation) -> int | None:
    """The index of the turn an annotation's `correction` replaces."""
    wrong, _ = wrong_turns(conv)
    return _problem(conv, wrong)


def _cut(messages: list[Message], targets: frozenset[int]) -> list[Message]:
    return messages[: max(targets) + 1] if targets else []


def _masked(conv: Conversation, wrong: dict[int, Wrong]) -> tuple[list[Message], frozenset[int]]:
    """The messages a masked format shows (the correction, if any, in place of the problem
    turn and ending the conversation) and the indices of its targets."""
    messages = conv.messages
    correction = conv.labels.correction
    problem = _problem(conv, wrong) if correction is not None else None
    if correction is not None and problem is not None:
        messages = [*messages[:problem], correction]
    targets = frozenset(
        i
        for i, m in enumerate(messages)
        if m.role == "assistant" and (i == problem or (i not in wrong and m.weight != 0))
    )
    return _cut(messages, targets), targets


def _clean(
    messages: list[Message],
    targets: frozenset[int],
    wrong: dict[int, Wrong],
    fixes: dict[int, int],
) -> tuple[list[Message] | None, str | None]:
    """A view in which every assistant turn is a target, for formats with no mask.

    A wrong turn that was fixed later is left out together with everything up to its fix
    (its results, the user's pushback): the fix then answers the request directly. A
    refused call the user followed up is left out with its result. Any other wrong turn
    ends the view; a context turn, which nothing may replace, refuses it.
    """
    kept: list[Message] = []
    skip_to = 0
    dropped_calls: set[str] = set()
    for i, m in enumerate(messages):
        if i < skip_to or (m.role == "tool" and m.tool_call_id in dropped_calls):
            continue
        if m.role == "assistant" and i not in targets:
            if i in fixes:
                skip_to = fixes[i]
                continue
            if wrong.get(i) == "refused_call" and _followed_up(messages, i):
                dropped_calls.update(c.id for c in m.tool_calls or ())
                continue
            if i in wrong:
                break
            return None, "context_turn_unmaskable"
        kept.append(m)
    while kept and kept[-1].role != "assistant":
        kept.pop()
    if not kept:
        return None, "wrong_turn_unmaskable"
    return kept, None


def _followed_up(messages: list[Message], index: int) -> bool:
    """Whether the user spoke next after a turn (its tool results aside)."""
    following = next((m for m in messages[index + 1 :] if m.role != "tool"), None)
    return following is not None and following.role == "user"


def _pair(
    conv: Conversation, wrong: dict[int, Wrong], fixes: dict[int, int]
) -> tuple[Pair | None, str | None]:
    messages = conv.messages
    if not wrong:
        return None, "no_wrong_turn"
    correction = conv.labels.correction
    problem = _problem(conv, wrong)
    if correction is not None and problem is not None:
        bad, chosen = problem, correction
    elif fixes:
        bad = min(fixes)
        chosen = messages[fixes[bad]]
    else:
        return None, "no_correction"
    prompt = messages[:bad]
    if not any(m.role == "user" for m in prompt):
        return None, "no_prompt"
    return Pair(prompt=prompt, chosen=chosen, rejected=messages[bad]), None


_last_plan: list[tuple[Conversation, Plan]] = []


def plan(conv: Conversation) -> Plan:
    """The plan of `conv`, made once however many formats ask for it in a row (export asks
    eight times per record; the plan was a third of its time)."""
    if _last_plan and _last_plan[0][0] is conv:
        return _last_plan[0][1]
    made = _whole_plan(conv)
    _last_plan[:] = [(conv, made)]
    return made


def _whole_plan(conv: Conversation) -> Plan:
    """A window's context (`meta.context_messages`) is masked where a format can mask it;
    the clean view and the preference pair come from its own part, so no format refuses a
    window for its context and no pair repeats in the windows that show it again."""
    full = _plan(conv)
    if not conv.meta.context_messages or full.refused:
        return full
    own = _plan(without_context(conv))
    return msgspec.structs.replace(
        full,
        clean=own.clean,
        clean_refused=own.clean_refused,
        pair=own.pair,
        pair_refused=own.pair_refused,
    )


def without_context(conv: Conversation) -> Conversation:
    """A window without the context carried before its own part: the system prompt stays,
    and the user request its turns answer when they do not open with one."""
    cut = conv.meta.context_messages or 0
    head, own = conv.messages[:cut], conv.messages[cut:]
    kept = [m for m in head if m.role == "system"]
    if own and own[0].role != "user":
        kept += [m for m in head if m.role == "user"][-1:]
    return msgspec.structs.replace(
        conv,
        messages=kept + own,
        meta=msgspec.structs.replace(conv.meta, context_messages=None),
    )


def _plan(conv: Conversation) -> Plan:
    wrong, fixes = wrong_turns(conv)
    pair, pair_refused = _pair(conv, wrong, fixes)
    uncorrected = any(k in ("negative", "false_claim") and i not in fixes for i, k in wrong.items())
    if uncorrected and conv.labels.correction is None:
        return Plan(
            messages=conv.messages,
            targets=frozenset(),
            refused="negative_without_correction",
            clean_refused="negative_without_correction",
            pair=pair,
            pair_refused=pair_refused,
            wrong=frozenset(wrong),
        )
    messages, targets = _masked(conv, wrong)
    if not targets:
        return Plan(
            messages=conv.messages,
            targets=targets,
            refused="nothing_to_learn",
            clean_refused="nothing_to_learn",
            pair=pair,
            pair_refused=pair_refused,
            wrong=frozenset(wrong),
        )
    shown = len(messages)
    clean, clean_refused = _clean(
        messages,
        targets,
        {i: k for i, k in wrong.items() if i < shown},
        {i: j for i, j in fixes.items() if j < shown},
    )
    return Plan(
        messages=messages,
        targets=targets,
        clean=clean,
        clean_refused=clean_refused,
        pair=pair,
        pair_refused=pair_refused,
        wrong=frozenset(wrong),
    )


def masked_messages(p: Plan) -> list[Message]:
    """`messages` with `weight: 0` on every assistant turn that is not a target."""
    return [
        msgspec.structs.replace(m, weight=None if i in p.targets or m.role != "assistant" else 0)
        for i, m in enumerate(p.messages)
    ]


def refusal(reason: str) -> Unexportable:
    return Unexportable(reason, REASONS[reason])


def trained_messages(conv: Conversation) -> list[Message]:
    """For formats with a per-turn mask: the kept messages, `weight: 0` on non-targets."""
    p = plan(conv)
    if p.refused:
        raise refusal(p.refused)
    return masked_messages(p)


def clean_conversation(conv: Conversation) -> Conversation:
    """For formats without a mask: the conversation cut so that every assistant turn trains."""
    p = plan(conv)
    if p.clean is None:
        raise refusal(p.clean_refused or "nothing_to_learn")
    return msgspec.structs.replace(conv, messages=p.clean)


def preference_pair(conv: Conversation) -> Pair:
    p = plan(conv)
    if p.pair is None:
        raise refusal(p.pair_refused or "no_correction")
    return p.pair


def marked_messages(conv: Conversation) -> list[Message]:
    """The record's own messages, its wrong turns written as `weight: 0` (for analysis)."""
    wrong = plan(conv).wrong
    return [
        msgspec.structs.replace(m, weight=0) if i in wrong else m
        for i, m in enumerate(conv.messages)
    ]
