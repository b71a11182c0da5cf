"""Segment refinement: a model's verdict on a candidate conversation (one exchange? which
assistant reply is the target? which turns are cross-talk?) applied to the candidate's turns.

The verdict comes from the `segment` LLM task (stages/llm_tasks/coherence.py), which sees the
turns in the same order and by the same indices as `CandidateTurn`s. Applying it:
- not coherent: the candidate is dropped (`incoherent`);
- a target other than the last turn: the conversation ends at that reply, provided it passes
  the guards as a target of its own (else dropped, `target_guarded`);
- off-topic turns are left out; when no user turn is left before the target the candidate is
  dropped (`no_context`).
A verdict that keeps every turn and the last one as target gives back the same conversation,
byte for byte: that is what the offline heuristic answers.
"""

from schemas.conversation import Conversation
from stages.discord.candidates import CandidateTurn, build_conversation
from stages.llm_tasks import coherence as task

DROP_REASONS = ("incoherent", "target_guarded", "no_context")
OUTCOMES = ("unchanged", "trimmed", "retargeted")


def task_turns(turns: list[CandidateTurn]) -> list[task.Turn]:
    """The turns as the segment task shows them to the model."""
    return [task.Turn(speaker=t.speaker, text=t.text, assistant=t.assistant) for t in turns]


def kept_turns(
    turns: list[CandidateTurn], verdict: task.SegmentVerdict
) -> list[CandidateTurn] | str:
    """The turns the verdict keeps, ending at its target, or the reason the candidate goes."""
    if not verdict.coherent or verdict.target is None:
        return "incoherent"
    if not turns[verdict.target].eligible:
        return "target_guarded"
    off_topic = set(verdict.off_topic)
    return [t for i, t in enumerate(turns[: verdict.target + 1]) if i not in off_topic]


def refine(
    conversation: Conversation, turns: list[CandidateTurn], verdict: task.SegmentVerdict
) -> tuple[Conversation | None, str]:
    """(refined conversation, outcome) or (None, drop reason)."""
    kept = kept_turns(turns, verdict)
    if isinstance(kept, str):
        return None, kept
    refined = build_conversation(kept, conversation.meta)
    if refined is None:
        return None, "no_context"
    if refined.meta.target_message_id != conversation.meta.target_message_id:
        return refined, "retargeted"
    if refined.meta.message_ids != conversation.meta.message_ids:
        return refined, "trimmed"
    return refined, "unchanged"
