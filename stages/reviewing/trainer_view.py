"""A record as a trainer of one export format sees it: the turns it shows, which of them carry
loss, and their tokens, all from the training contract (stages/formats/contract.py), never
from a second reading of it."""

from typing import Literal

import msgspec

from schemas.conversation import Conversation, Message
from stages.curation.tokens import message_tokens, tools_tokens
from stages.formats.contract import REASONS, Pair, marked_messages, plan, wrong_turns

Family = Literal["masked", "clean", "pair", "marked"]

# How each export format writes the contract (docs/contract.md, "Per format").
FAMILIES: dict[str, Family] = {
    "openai": "masked",
    "axolotl_chat": "masked",
    "chatml": "clean",
    "qwen": "clean",
    "harmony": "clean",
    "sharegpt": "clean",
    "alpaca": "clean",
    "preference": "pair",
    "unified": "marked",
}


class CallView(msgspec.Struct):
    id: str
    name: str
    arguments: str  # indented JSON when the arguments parse, else as written


class Turn(msgspec.Struct):
    role: str
    content: str | None
    tool_calls: list[CallView]
    tool_call_id: str | None
    name: str | None
    loss: bool
    tokens: int
    note: str | None = None  # why it does not train, or what it is (a correction, context)


class PairView(msgspec.Struct):
    prompt: list[Turn]
    chosen: Turn
    rejected: Turn


class TrainerView(msgspec.Struct):
    family: Family
    turns: list[Turn]
    refused: str | None  # why the contract leaves the record out of this format
    loss_tokens: int
    total_tokens: int
    pair: PairView | None = None


def _call(call_id: str, name: str, arguments: str) -> CallView:
    try:
        shown = msgspec.json.format(arguments.encode(), indent=2).decode()
    except msgspec.DecodeError:
        shown = arguments
    return CallView(id=call_id, name=name, arguments=shown)


def turn(message: Message, *, loss: bool, note: str | None = None) -> Turn:
    return Turn(
        role=message.role,
        content=message.content,
        tool_calls=[
            _call(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()
        ],
        tool_call_id=message.tool_call_id,
        name=message.name,
        loss=loss,
        tokens=message_tokens(message),
        note=note,
    )


def _notes(conv: Conversation, shown: list[Message]) -> list[str | None]:
    """Per shown message: the wrong-turn kind when it is one of the record's own wrong turns,
    `correction` when it is the annotation's correction, `context` for a weight-0 turn."""
    wrong, _ = wrong_turns(conv)
    positions = {id(m): i for i, m in enumerate(conv.messages)}
    notes: list[str | None] = []
    for message in shown:
        at = positions.get(id(message))
        if at is None and message is conv.labels.correction:
            notes.append("correction")
        elif at is not None and at in wrong:
            notes.append(f"wrong: {wrong[at]}")
        elif message.weight == 0:
            notes.append("context")
        else:
            notes.append(None)
    return notes


def _turns(conv: Conversation, shown: list[Message], loss: list[bool]) -> list[Turn]:
    return [
        turn(m, loss=trains, note=note)
        for m, trains, note in zip(shown, loss, _notes(conv, shown), strict=True)
    ]


def _pair_view(conv: Conversation, pair: Pair) -> PairView:
    return PairView(
        prompt=_turns(conv, pair.prompt, [False] * len(pair.prompt)),
        chosen=turn(pair.chosen, loss=True, note="chosen"),
        rejected=turn(pair.rejected, loss=False, note="rejected"),
    )


def trainer_view(conv: Conversation, export_format: str) -> TrainerView:
    """The turns `export_format` trains on, with the contract's reason when it trains none."""
    family = FAMILIES[export_format]
    p = plan(conv)
    shown: list[Message] = conv.messages
    loss = [False] * len(shown)
    refused: str | None = None
    pair = None
    if family == "masked":
        refused = p.refused
        if refused is None:
            shown = p.messages
            loss = [i in p.targets for i in range(len(shown))]
    elif family == "clean":
        refused = p.clean_refused if p.clean is None else None
        if p.clean is not None:
            shown = p.clean
            loss = [m.role == "assistant" for m in shown]
    elif family == "pair":
        refused = p.pair_refused if p.pair is None else None
        pair = _pair_view(conv, p.pair) if p.pair is not None else None
    else:
        loss = [m.role == "assistant" and m.weight != 0 for m in marked_messages(conv)]
    turns = _turns(conv, shown, loss)
    if pair is not None:
        counted = [*pair.prompt, pair.chosen]
        loss_tokens = pair.chosen.tokens
    else:
        counted = turns
        loss_tokens = sum(t.tokens for t in turns if t.loss)
    return TrainerView(
        family=family,
        turns=turns,
        refused=f"{refused}: {REASONS.get(refused, refused)}" if refused else None,
        loss_tokens=loss_tokens,
        total_tokens=sum(t.tokens for t in counted) + tools_tokens(conv.tools),
        pair=pair,
    )
