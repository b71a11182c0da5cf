"""One Discord channel file into conversations: read, segment, cache, and refine with the LLM.

The segment stage runs this per channel file (stages/segment.py); the candidates and their
guards are stages/discord/candidates.py, the refinement verdicts stages/discord/refine.py.
"""

import functools
import logging
from pathlib import Path
from typing import NamedTuple

import msgspec

from schemas.conversation import Conversation
from schemas.raw_discord_message import RawDiscordMessage
from schemas.reject import Dropped, Reject
from stages.common.filecache import FileCache
from stages.common.jsonl import iter_lines
from stages.common.llm import LLMSettings, LLMStats, complete_all
from stages.common.rejects import excerpt, opening
from stages.discord import refine as refinement
from stages.discord.candidates import (
    SEGMENTER_VERSION,
    CandidateTurn,
    SegmentParams,
    segment_channel,
)
from stages.llm_tasks import coherence as segment_task
from stages.llm_tasks.task_io import TaskError, usable

REJECT_REASONS = ("invalid_json", "invalid_message", "line_too_long")
COUNT_KEYS = ("channels", "read", "system_messages", "candidates", "conversations")
# refinement failure reasons written even at zero, so `dvc metrics diff` compares like with like
REFINE_FAILURES = (
    "empty_reply",
    "invalid_json",
    "schema_violation",
    "refusal",
    "coherent_without_target",
    "target_off_topic",
    "timeout",
    "rate_limited",
    "server_error",
    "connection",
)
CACHE_LAYOUT = 3  # of a cached FileResult: bump when its fields change

log = logging.getLogger("logtune")

_message_decoder = msgspec.json.Decoder(RawDiscordMessage)
_conversation_decoder = msgspec.json.Decoder(Conversation)
_json = msgspec.json.Encoder()
_pack = msgspec.msgpack.Encoder()


class FileResult(msgspec.Struct, array_like=True):
    """One channel file's segmentation, as cached: conversations already encoded."""

    lines: bytes
    count: int
    rejects: list[Reject]
    counts: dict[str, int]
    turns: list[list[CandidateTurn]]  # each conversation's turns, for refinement
    dropped: list[Dropped]  # candidates the guards turned down


_unpack = msgspec.msgpack.Decoder(FileResult)


class Task(NamedTuple):
    path: Path
    file: str  # the path as written into records and rejects
    params: SegmentParams


def read_channel(task: Task) -> tuple[list[RawDiscordMessage], list[Reject]]:
    messages, rejects = [], []
    for line in iter_lines(task.path):
        if line.oversize:
            rejects.append(
                Reject(
                    file=task.file,
                    line=line.number,
                    reason="line_too_long",
                    message=f"line of {line.oversize} bytes",
                )
            )
            continue
        if line.blank:
            continue
        try:
            messages.append(_message_decoder.decode(line.data))
        except msgspec.DecodeError as error:  # a ValidationError is one: valid JSON, wrong shape
            wrong_shape = isinstance(error, msgspec.ValidationError)
            rejects.append(
                Reject(
                    file=task.file,
                    line=line.number,
                    reason="invalid_message" if wrong_shape else "invalid_json",
                    message=str(error),
                    excerpt=excerpt(line.data),
                )
            )
    return messages, rejects


def segment_file(task: Task) -> FileResult:
    messages, rejects = read_channel(task)
    segments = segment_channel(messages, task.params, file=task.file)
    encoded = b"".join(_json.encode(c) + b"\n" for c in segments.conversations)
    counts = {"read": len(messages) + len(rejects), **segments.counts}
    return FileResult(
        encoded, len(segments.conversations), rejects, counts, segments.turns, segments.dropped
    )


def cached_result(task: Task, cache: FileCache | None) -> tuple[FileResult, bool]:
    """The file's result and whether it came from the cache."""
    if cache is None:
        return segment_file(task), False
    key = cache.key(
        task.path, "discord_segment", SEGMENTER_VERSION, CACHE_LAYOUT, task.file, task.params
    )
    data = cache.load(key)
    if data is not None:
        try:
            return _unpack.decode(data), True
        except msgspec.DecodeError:
            log.warning("%s: damaged cache entry, segmenting again", task.file)
    result = segment_file(task)
    cache.store(key, _pack.encode(result))
    return result, False


class Refined(NamedTuple):
    conversations: list[Conversation]
    failures: list[Dropped]  # kept as cut: the model's reply was unusable
    dropped: list[Dropped]  # left out on the model's verdict
    counts: dict[str, int]


def refine_file(
    result: FileResult, settings: LLMSettings, cache_dir: str, llm_stats: LLMStats
) -> Refined:
    """Ask the segment task about every conversation of one channel file and apply the
    verdicts; an unusable reply keeps the conversation as cut."""
    conversations = [_conversation_decoder.decode(line) for line in result.lines.splitlines()]
    turns = [refinement.task_turns(t) for t in result.turns]
    results, stats = complete_all(
        settings,
        [segment_task.build_request(t) for t in turns],
        cache_dir=cache_dir,
        heuristic=segment_task.offline,
    )
    llm_stats.add(stats)
    refined = Refined([], [], [], {})

    def count(key: str, n: int = 1) -> None:
        refined.counts[key] = refined.counts.get(key, 0) + n

    for conversation, candidate, shown, answer in zip(
        conversations, result.turns, turns, results, strict=True
    ):
        verdict = usable(answer, functools.partial(segment_task.parse_reply, turns=shown))
        if isinstance(verdict, TaskError):
            count(f"refine_failed.{verdict.reason}")
            refined.failures.append(
                Dropped(
                    id=conversation.id,
                    reason=f"segment:{verdict.reason}",
                    file=conversation.meta.file,
                )
            )
            refined.conversations.append(conversation)
            continue
        kept, outcome = refinement.refine(conversation, candidate, verdict)
        if kept is None:
            count(f"refine_dropped.{outcome}")
            users = [m.content for m in conversation.messages if m.role == "user" and m.content]
            refined.dropped.append(
                Dropped(
                    id=conversation.id,
                    reason=f"refine_dropped:{outcome}",
                    file=conversation.meta.file,
                    source="discord",
                    stage="segment",
                    excerpt=opening(users[0] if users else ""),
                )
            )
            continue
        count(f"refine.{outcome}")
        count("refine.turns_left_out", len(candidate) - len(kept.meta.message_ids or ()))
        refined.conversations.append(kept)
    return refined
