"""The review page's list over 100,000 generated records: how long its first page and a
filtered page take, against the time to read the records once.

The dataset is what `dvc repro` leaves: curated train and validation records (several sources,
example types, ratings and tags, a few words of varied text), curate's dropped records with
their whole record in moderate's output, a few flagged ones, and the export's metadata and
rejects. Timed, each the median of `--repeats` runs:

- reading the records once: every curated, moderated and flagged line decoded as a record;
- building the index (the first start on new data);
- the first page over HTTP from a server just started on unchanged data (index from the
  cache), then a page filtered by source and example type, then a free-text search.

Prints each time, then, last, the first page's time as a ratio to reading the records once.

    python tests/bench/review.py [--records 100000] [--repeats 3]
"""

import argparse
import random
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import msgspec

from schemas.conversation import Conversation, FunctionCall, Labels, Message, Meta, ToolCall
from schemas.export_lines import ExportReject, RecordMetadata
from schemas.reject import Dropped
from stages.common.jsonl import read_records
from stages.reviewing.http_server import ReviewServer
from stages.reviewing.record_index import DataPaths, DatasetIndex
from stages.reviewing.review_api import ListQuery, ReviewApp

SOURCES = ("toollog", "sessions", "discord", "journals", "botlog")
TYPES = ("direct_execution", "reasoning_chain", "negative", "code_correction")
WORDS = [f"{a}{b}{c}" for a in "bdfgklmnprstv" for b in "aeiou" for c in "lnrst"]


def record(rng: random.Random, n: int) -> Conversation:
    def words(k: int) -> str:
        return " ".join(rng.choices(WORDS, k=k))

    call = ToolCall(
        id="call_1", function=FunctionCall(name="bank", arguments=f'{{"item":"{words(2)}"}}')
    )
    messages = [
        Message(role="user", content=f"{words(12)} #{n}"),
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id="call_1", content=words(40)),
        Message(role="assistant", content=words(30)),
    ]
    return Conversation(
        id=f"{n:016x}",
        source=rng.choice(SOURCES),
        messages=messages,
        labels=Labels(
            example_type=rng.choice(TYPES),
            quality_score=round(rng.random(), 2),
            rating=rng.choice((None, 1, 2, 3, 4, 5)),
            tags=sorted(rng.sample(("tool_use", "tool_error", "multi_step", "banking"), 2)),
            reasoning=words(8),
        ),
        meta=Meta(file=f"logs/day{n % 30}.jsonl", line=n % 1000 + 1),
    )


def generate(root: Path, count: int) -> DataPaths:
    """A dataset as the pipeline leaves it: 90% curated, 9% dropped by curate, 1% flagged."""
    rng = random.Random(17)
    paths = DataPaths(
        curated=root / "curated",
        moderated=root / "moderated",
        export=root / "export",
        cache=root / "cache",
    )
    for folder in (paths.curated, paths.moderated, paths.export):
        folder.mkdir(parents=True)
    encode = msgspec.json.Encoder().encode
    files = {
        name: open(path, "wb")  # noqa: SIM115 - closed together below
        for name, path in {
            "train": paths.curated / "train.jsonl",
            "validation": paths.curated / "validation.jsonl",
            "dropped": paths.curated / "dropped.jsonl",
            "moderated": paths.moderated / "conversations.jsonl",
            "flagged": paths.moderated / "flagged.jsonl",
            "metadata": paths.export / "records.metadata.jsonl",
            "rejects": paths.export / "rejects.jsonl",
        }.items()
    }
    index = {"train": 0, "validation": 0}
    for n in range(count):
        conv = record(rng, n)
        line = encode(conv) + b"\n"
        kind = n % 100
        if kind == 99:
            flagged = {"id": conv.id, "categories": ["violence"], "conversation": conv}
            files["flagged"].write(encode(flagged) + b"\n")
            continue
        files["moderated"].write(line)
        if kind >= 90:
            dropped = Dropped(
                id=conv.id, reason="near_duplicate", source=conv.source, stage="curate"
            )
            files["dropped"].write(encode(dropped) + b"\n")
            continue
        split = "validation" if kind < 9 else "train"
        files[split].write(line)
        at = index[split]
        index[split] += 1
        metadata = RecordMetadata(
            id=conv.id,
            split=split,
            index=at,
            source=conv.source,
            labels=conv.labels,
            meta=conv.meta,
            lines={"openai": at},
        )
        files["metadata"].write(encode(metadata) + b"\n")
        if conv.labels.example_type == "negative":
            reject = ExportReject(
                id=conv.id,
                split=split,
                index=at,
                format="openai",
                reason="negative_without_correction",
                message="no correction",
            )
            files["rejects"].write(encode(reject) + b"\n")
    for handle in files.values():
        handle.close()
    return paths


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_once(paths: DataPaths) -> int:
    count = 0
    for split in ("train", "validation"):
        count += sum(1 for _ in read_records(paths.curated_split(split), Conversation))
    count += sum(1 for _ in read_records(paths.moderated / "conversations.jsonl", Conversation))
    return count


def first_page_over_http(paths: DataPaths, annotations: Path) -> float:
    """A server started on unchanged data: its first page, index read from the cache."""
    server = ReviewServer("127.0.0.1", 0, ReviewApp(paths, annotations, None, "openai"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        start = time.perf_counter()
        with urllib.request.urlopen(f"{server.url}api/records") as response:
            assert response.status == 200 and b'"rows"' in response.read()
        return time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()


def after_first_page(paths: DataPaths, annotations: Path, query: ListQuery) -> float:
    """A started server's next page: the index is loaded, the selection is new."""
    app = ReviewApp(paths, annotations, None, "openai")
    app.page(ListQuery({}))
    start = time.perf_counter()
    app.page(query)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = generate(root, args.records)
        annotations = root / "annotations.yaml"
        annotations.write_text("{}\n")
        read = median_seconds(lambda: read_once(paths), args.repeats)
        print(f"read {args.records} records once: {read:.3f} s")
        build = median_seconds(
            lambda: [p.unlink() for p in paths.cache.glob("*")] + [DatasetIndex(paths).current()],
            args.repeats,
        )
        print(f"build the index (first start on new data): {build:.3f} s")
        first = statistics.median(
            first_page_over_http(paths, annotations) for _ in range(args.repeats)
        )
        print(f"first page over HTTP, fresh server, index from the cache: {first:.3f} s")
        filtered = statistics.median(
            after_first_page(
                paths, annotations, ListQuery({"source": ["discord"], "example_type": ["negative"]})
            )
            for _ in range(args.repeats)
        )
        print(f"then a page filtered by source and example type: {filtered:.3f} s")
        searched = statistics.median(
            after_first_page(paths, annotations, ListQuery({}, text="kal bel"))
            for _ in range(args.repeats)
        )
        print(f"then a page of a free-text search: {searched:.3f} s")
        print(f"first page / read once: {first / read:.3f}")


if __name__ == "__main__":
    main()
