"""The review tool without a browser: its index over a dataset the real curate and export
made, the annotations file it edits, and the server's refusal of foreign writes."""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from schemas.conversation import Conversation, Labels, Message
from stages import curate, export
from stages.annotations import load_annotations
from stages.common.hashing import messages_id
from stages.reviewing.annotation_store import AnnotationForm, AnnotationStore, StaleAnnotation
from stages.reviewing.http_server import ReviewServer
from stages.reviewing.record_index import DataPaths, DatasetIndex
from stages.reviewing.review_api import ListQuery, ReviewApp
from tests.records import conversation, lone_negative, write_conversations

HEADER = "# Hand-kept labels.\n# Keep this comment.\n\n"


def negative_fish() -> Conversation:
    record = conversation("sell my fish", reply="Sold them all!")
    messages = [
        *record.messages[:2],
        Message(role="tool", tool_call_id="call_1", content="Error: no fish"),
    ]
    messages.append(Message(role="assistant", content="Sold them all!"))
    return msgspec.structs.replace(
        record,
        id=messages_id(messages),
        messages=messages,
        labels=Labels(example_type="negative", rating=1),
    )


@pytest.fixture
def dataset(run, workdir: Path) -> DataPaths:
    """Three toollog records, one of them twice (a duplicate curate drops), one negative."""
    asks = ("fish at the river by lumbridge", "chop every oak near varrock", "mine copper ore")
    records = [
        conversation(ask, reply=f"Done: {ask}, as you asked.", line=i, rating=4)
        for i, ask in enumerate(asks)
    ]
    records += [records[0], negative_fish(), lone_negative("<img src=x onerror=alert(1)>")]
    write_conversations(workdir / "moderated" / "conversations.jsonl", records)
    (workdir / "moderated" / "flagged.jsonl").write_text("")
    (workdir / "annotations.yaml").write_text(HEADER)
    run(
        curate.main,
        "moderated/conversations.jsonl",
        "--out-dir",
        "curated",
        "--validation-fraction",
        "0",
        "--annotations",
        "annotations.yaml",
    )
    run(
        export.main,
        "--curated-dir",
        "curated",
        "--curate-stats",
        "curated/stats.json",
        "--out-dir",
        "export",
    )
    return DataPaths(
        curated=workdir / "curated",
        moderated=workdir / "moderated",
        export=workdir / "export",
        cache=workdir / "cache",
    )


def test_index_lists_every_record_with_counts_and_is_reused(dataset: DataPaths) -> None:
    index = DatasetIndex(dataset)
    catalog = index.current()
    everything = catalog.select({}, "", set())
    assert everything.counts["split"] == {"dropped": 1, "train": 5}
    assert everything.counts["dropped"] == {"(none)": 5, "curate: duplicate": 1}
    negative = catalog.select({"example_type": ["negative"]}, "", set())
    assert len(negative.matches) == 2
    assert negative.counts["example_type"]["(none)"] == 4  # a facet ignores its own filter
    assert negative.counts["split"] == {"dropped": 0, "train": 2}
    assert "openai: negative_without_correction" in negative.counts["refused"]
    found = catalog.select({}, "ONERROR=alert", set()).matches
    assert [catalog.entry(n).title for n in found] == ["<img src=x onerror=alert(1)>"]
    files = sorted(p.name for p in dataset.cache.iterdir())
    assert DatasetIndex(dataset).current().index.key == catalog.index.key  # read, not rebuilt
    assert sorted(p.name for p in dataset.cache.iterdir()) == files
    with open(dataset.curated / "dropped.jsonl", "a") as handle:
        handle.write('{"id":"gone","reason":"over_max_samples","stage":"curate"}\n')
    rebuilt = index.current()
    assert rebuilt.index.key != catalog.index.key and rebuilt.size == 7
    assert len(list(dataset.cache.iterdir())) == 2  # the stale index went


def test_a_save_keeps_comments_and_refuses_a_stale_form(workdir: Path) -> None:
    path = workdir / "annotations.yaml"
    path.write_text(HEADER + '"aaa":  # first\n  rating: 2\n  note: kept\n')
    store = AnnotationStore(path)
    built = Labels(example_type="direct_execution", quality_score=0.5, tags=["x"])
    first, version = store.get("bbb")
    assert first is None
    form = AnnotationForm(
        version=version,
        example_type="negative",
        quality_score=0.5,
        tags=["x"],
        problem="claimed a sale that failed",
        correction=None,
    )
    saved, new_version = store.save("bbb", form, built)
    assert saved == {"example_type": "negative", "problem": "claimed a sale that failed"}
    text = path.read_text()
    assert text.startswith(HEADER + '"aaa":  # first\n  rating: 2\n  note: kept\n')
    assert load_annotations(path, required=True)["bbb"].example_type == "negative"
    with pytest.raises(StaleAnnotation):
        store.save("bbb", msgspec.structs.replace(form, rating=5), built)
    assert path.read_text() == text
    store.save("aaa", AnnotationForm(version=store.get("aaa")[1], rating=3, note="kept"), built)
    assert load_annotations(path, required=True)["aaa"].rating == 3
    assert store.get("bbb")[1] == new_version  # another record's save leaves it be


def test_record_view_shows_loss_and_pending_changes(dataset: DataPaths, workdir: Path) -> None:
    app = ReviewApp(dataset, workdir / "annotations.yaml", None, "openai")
    page = app.page(ListQuery({"example_type": ["negative"], "source": ["toollog"]}))
    fish = next(row for row in page["rows"] if row["title"] == "sell my fish")
    view = app.record(fish["n"], "openai", ListQuery({}))
    assert view["trainer"]["refused"].startswith("negative_without_correction")
    assert view["exported"] == {"file": "formats/openai/train.jsonl", "line": None, "text": None}
    body = {
        "version": view["version"],
        "example_type": "negative",
        "rating": 1,
        "correction": {"content": "I could not sell them: you have no fish."},
    }
    saved = app.save(fish["n"], json.dumps(body).encode())
    assert saved["pending"] == [
        {
            "field": "correction",
            "built": None,
            "annotated": "I could not sell them: you have no fish.",
        }
    ]
    after = app.record(fish["n"], "openai", ListQuery({}))
    assert after["pending"] == saved["pending"]  # the build has not run yet
    unified = app.record(fish["n"], "unified", ListQuery({}))["trainer"]
    assert [t["loss"] for t in unified["turns"]] == [False, True, False, False]
    assert unified["turns"][-1]["note"] == "wrong: false_claim"
    shown = app.record(fish["n"], "sharegpt", ListQuery({}))["exported"]
    assert shown["line"] is None  # refused: nothing right to learn


@pytest.fixture
def server(dataset: DataPaths, workdir: Path) -> Iterator[ReviewServer]:
    app = ReviewApp(dataset, workdir / "annotations.yaml", None, "openai")
    served = ReviewServer("127.0.0.1", 0, app)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def status(url: str, headers: dict[str, str], body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_writes_need_this_server_origin_and_token(server: ReviewServer, workdir: Path) -> None:
    url = f"{server.url}api/annotations/0"
    body = json.dumps({"version": "none", "rating": 2}).encode()
    good = {
        "Origin": server.url.rstrip("/"),
        "X-Review-Token": server.token,
        "Content-Type": "application/json",
    }
    before = (workdir / "annotations.yaml").read_text()
    assert status(url, {**good, "Origin": "http://evil.example"}, body) == 403
    assert status(url, {**good, "X-Review-Token": "guess"}, body) == 403
    assert status(url, {k: v for k, v in good.items() if k != "Origin"}, body) == 403
    assert status(url, {**good, "Content-Type": "text/plain"}, body) == 403
    assert status(url, {**good, "Host": "rebound.example:80"}, body) == 403
    assert status(f"{server.url}api/records", {"Host": "rebound.example:80"}) == 403
    assert (workdir / "annotations.yaml").read_text() == before
    assert status(url, good, body) == 200
    assert "rating: 2" in (workdir / "annotations.yaml").read_text()
    assert status(url, good, body) == 409  # the same form again: its version is stale
