"""validate: schema and OpenAI checks on real exports, errors with record ids, metrics, plots."""

import json
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas.format_lines import FormatError
from stages import export, validate
from stages.common.hashing import content_id
from stages.common.jsonl import DEFAULT_MAX_LINE_BYTES
from stages.common.stats import json_bytes
from stages.formats.vocab import count_o200k
from stages.validation.metadata_index import MAX_GAP, LinePlaces
from stages.validation.openai_checks import count_tokens, default_epochs
from stages.validation.summary import bucket, length_histogram, percentile, token_summary
from tests.conftest import read_jsonl
from tests.records import conversation, lone_negative, single_turn, write_conversations

B = conversation("b", calls=2)
TRAIN = [conversation("a", rating=5), B, lone_negative("delete prod"), single_turn("answer?")]
VALIDATION = [conversation("c")]


def export_to_exp(run, workdir: Path, validation: list) -> Path:
    write_conversations(workdir / "cur" / "train.jsonl", TRAIN)
    write_conversations(workdir / "cur" / "validation.jsonl", validation)
    (workdir / "cur" / "stats.json").write_bytes(json_bytes({}))
    args = ["--curated-dir", "cur", "--curate-stats", "cur/stats.json", "--out-dir", "exp"]
    run(export.main, *args)
    return workdir / "exp"


@pytest.fixture
def exported(run, workdir: Path) -> Path:
    return export_to_exp(run, workdir, VALIDATION)


def run_validate(run, *args: str, exit_code: int = 0):
    return run(validate.main, "--export-dir", "exp", "--out-dir", "val", *args, exit_code=exit_code)


def metrics(workdir: Path) -> dict:
    return json.loads((workdir / "val" / "metrics.json").read_text())


def test_a_clean_export_has_no_errors_and_counts_tokens(run, workdir, exported) -> None:
    run_validate(run)
    m = metrics(workdir)
    assert m["errors_total"] == 0 and (workdir / "val" / "errors.jsonl").read_bytes() == b""
    stats = json.loads((exported / "stats.json").read_text())["formats"]
    assert {name: f["lines"] for name, f in m["formats"].items()} == {
        name: f["lines"] for name, f in stats.items()
    }
    assert m["records"] == {"train": 4, "validation": 1}
    train = m["tokens"]["train"]
    assert train["examples"] == 3 and m["tokens"]["validation"]["examples"] == 1
    counts = sorted(
        count_tokens(line) for line in read_jsonl(exported / "formats/openai/train.jsonl")
    )
    assert len(counts) == 3 and counts[0] < counts[-1]
    assert [train[k] for k in ("min", "p50", "max", "total")] == [*counts, sum(counts)]
    # 3 examples: OpenAI trains min(25, 100 // 3) = 25 epochs; no example is over the limit.
    assert m["openai"]["epochs"] == default_epochs(3) == 25
    assert m["openai"]["training_tokens_per_epoch"] == train["total"]
    assert m["openai"]["training_tokens_total"] == 25 * train["total"]


def test_a_malformed_record_fails_validate_with_its_id_and_the_reason(
    run, workdir, exported
) -> None:
    path = exported / "formats" / "openai" / "train.jsonl"
    lines = path.read_text().splitlines()
    bad = json.loads(lines[1])
    bad["messages"][2]["content"] = [{"type": "text", "text": "caught 3"}]
    lines[1] = json.dumps(bad)
    path.write_text("\n".join(lines) + "\n")

    result = run_validate(run, exit_code=1)
    assert (
        f"openai: exp/formats/openai/train.jsonl:2: record {B.id}: messages[2].content"
        in result.output
    )
    errors = read_jsonl(workdir / "val" / "errors.jsonl")
    assert {(e["format"], e["file"]) for e in errors} == {
        ("openai", "exp/formats/openai/train.jsonl")
    }
    assert {(e["line"], e["record_id"], e["field"], e["reason"]) for e in errors} == {
        (2, B.id, "messages[2].content", "schema_anyOf"),
        (2, B.id, "messages[2].content", "tool_content_not_string"),
    }
    m = metrics(workdir)
    assert m["errors"] == {"schema_anyOf": 1, "tool_content_not_string": 1}
    assert m["errors_total"] == 2 and m["formats"]["openai"]["errors"] == 2
    assert m["tokens"]["train"]["examples"] == 2  # the good lines around it are still counted


def test_no_fail_on_error_leaves_the_verdict_to_the_metric(run, workdir, exported) -> None:
    path = exported / "formats" / "chatml" / "validation.jsonl"
    path.write_text("not json\n")
    run_validate(run, "--no-fail-on-error")
    [error] = read_jsonl(workdir / "val" / "errors.jsonl")
    assert (error["reason"], error["record_id"], error["line"]) == (
        "invalid_json",
        VALIDATION[0].id,
        1,
    )
    assert metrics(workdir)["errors_total"] == 1


def test_a_line_the_metadata_does_not_place_is_a_mismatch(run, workdir, exported) -> None:
    path = exported / "formats" / "qwen" / "train.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    run_validate(run, "--no-fail-on-error")
    errors = read_jsonl(workdir / "val" / "errors.jsonl")
    assert [(e["file"], e["reason"]) for e in errors] == [
        ("exp/formats/qwen/train.jsonl", "metadata_mismatch")
    ]


def test_examples_over_the_token_limit_are_errors(run, workdir, exported) -> None:
    run_validate(run, "--max-tokens-per-example", "20", "--no-fail-on-error")
    m = metrics(workdir)
    assert m["errors"] == {"too_many_tokens": 3} and m["openai"]["too_long"] == 3
    # The single-turn line is 14 tokens: 3 reply priming + 3 per message + role and content
    # ("user" 1, "answer?" 2, "assistant" 1, "42" 1). The two long ones are billed up to 20.
    assert m["tokens"]["train"]["min"] == 14
    assert m["openai"]["training_tokens_per_epoch"] == 2 * 20 + 14


def test_plot_files_count_sources_types_and_lengths(run, workdir, exported) -> None:
    run_validate(run)
    plots = workdir / "val" / "plots"
    assert (plots / "sources.csv").read_text() == (
        "source,train,validation,examples\nbotlog,2,0,2\ntoollog,2,1,3\n"
    )
    assert (plots / "example_types.csv").read_text() == (
        "example_type,train,validation,examples\nnegative,1,0,1\nunlabelled,3,1,4\n"
    )
    rows = (plots / "token_lengths.csv").read_text().splitlines()
    assert rows[0] == "tokens,train,validation"
    counts = [tuple(map(int, r.split(","))) for r in rows[1:]]
    assert sum(c[1] for c in counts) == 3 and sum(c[2] for c in counts) == 1
    assert [c[0] for c in counts] == [64 * 2**i for i in range(len(counts))]


def test_same_exports_give_the_same_bytes(run, workdir, exported) -> None:
    """A rerun into an emptied folder, on one worker instead of two, writes every file
    byte for byte again."""
    val = workdir / "val"

    def outputs() -> dict[Path, bytes]:
        return {p.relative_to(val): p.read_bytes() for p in val.rglob("*") if p.is_file()}

    run_validate(run, "--jobs", "2")
    first = outputs()
    assert Path("metrics.json") in first and Path("plots/token_lengths.csv") in first
    assert json.loads(first[Path("metrics.json")])["tokens"]["train"]["examples"] == 3
    shutil.rmtree(val)
    run_validate(run, "--jobs", "1")
    assert first == outputs()


def test_bad_metadata_lines_are_errors_not_crashes(run, workdir, exported) -> None:
    path = exported / "records.metadata.jsonl"
    path.write_bytes(path.read_bytes() + b'{"id": 1}\n')
    run_validate(run, "--no-fail-on-error")
    [error] = read_jsonl(workdir / "val" / "errors.jsonl")
    assert (error["reason"], error["line"]) == ("invalid_metadata", 6)


def test_summary_figures_by_hand() -> None:
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert percentile([7], 0.5) == 7
    assert [bucket(n) for n in (1, 64, 65, 300)] == [64, 64, 128, 512]
    assert length_histogram({"train": [10, 300], "validation": [70]}) == [
        {"tokens": 64, "train": 1, "validation": 0},
        {"tokens": 128, "train": 0, "validation": 1},
        {"tokens": 256, "train": 0, "validation": 0},
        {"tokens": 512, "train": 1, "validation": 0},
    ]
    assert token_summary([5, 1, 3]) == {
        "examples": 3,
        "total": 9,
        "min": 1,
        "mean": 3.0,
        "p50": 3,
        "p90": 5,
        "max": 5,
    }


def test_error_lines_are_format_errors(run, workdir, exported) -> None:
    (exported / "formats" / "sharegpt" / "train.jsonl").write_text('{"conversations": 3}\n')
    run_validate(run, "--no-fail-on-error")
    lines = (workdir / "val" / "errors.jsonl").read_bytes().splitlines()
    errors = [msgspec.json.decode(line, type=FormatError) for line in lines]
    assert [(e.line, e.field, e.reason) for e in errors] == [
        (1, "system", "schema_required"),
        (1, "tools", "schema_required"),
        (1, "conversations", "schema_type"),
        (0, "lines", "metadata_mismatch"),
    ]
    assert errors[0].record_id == TRAIN[0].id
    assert {e.format for e in errors} == {"sharegpt"}


def test_an_export_line_longer_than_the_input_line_limit_is_checked_not_mangled(
    workdir: Path,
) -> None:
    """Exports are our own output: a huge record is read whole, not reported as broken."""
    record = {
        "system": "",
        "instruction": "y" * (DEFAULT_MAX_LINE_BYTES + 10),
        "input": "",
        "output": "ok",
    }
    path = workdir / "train.jsonl"
    path.write_bytes(msgspec.json.encode(record) + b"\n")
    n_lines, errors, _ = validate.check_file(path, "alpaca", {0: "abc"}, max_tokens=100)
    assert (n_lines, errors) == (1, [])


@pytest.mark.parametrize("span_bytes", [1, 50, 1 << 20])
def test_an_error_names_the_metadatas_record_else_the_lines_own(
    workdir: Path, monkeypatch, span_bytes: int
) -> None:
    """However the file is cut, an error is numbered in the file and names the record the
    metadata places on its line; on a line it places none, the content id of the messages."""
    monkeypatch.setattr("stages.validate.SPAN_BYTES", span_bytes)
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}
    bad = {"messages": [{"role": "user", "content": "hi"}]}
    path = workdir / "train.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(x) + b"\n" for x in (good, bad, good, bad)))
    _, errors, _ = validate.check_file(path, "openai", {0: "r0", 1: "r1", 2: "r2"}, max_tokens=100)
    named = {(e.line, e.record_id) for e in errors if e.reason != "metadata_mismatch"}
    assert named == {(2, "r1"), (4, content_id(bad["messages"]))}


def test_a_message_of_a_million_characters_is_counted_not_a_crash(workdir: Path) -> None:
    """bpe-openai's encode_ordinary refuses a text past a million characters or 200,000
    tokens; the count goes on, and the line is reported as too long."""
    content = "word" + " word" * 249_999
    line = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": content}]
    }
    path = workdir / "train.jsonl"
    path.write_bytes(msgspec.json.encode(line) + b"\n")
    n_lines, errors, report = validate.check_file(path, "openai", {0: "abc"}, max_tokens=100)
    assert n_lines == 1 and [e.reason for e in errors] == ["too_many_tokens"]
    # priming 3, two messages of 3, roles 1 each, "hi" 1, and "word" and " word" 250,000 times
    assert report is not None and report.tokens_per_example == [3 + 2 * 3 + 2 + 1 + 250_000]


def test_empty_files_and_formats_are_warnings_not_errors(run, workdir, exported) -> None:
    run_validate(run)
    m = metrics(workdir)
    assert m["errors_total"] == 0
    assert m["warnings"] == {"empty_format": 1, "empty_split": 1} and m["warnings_total"] == 2
    refused = "the format refused all {} {} record(s) (see rejects.jsonl)"
    assert m["warning_list"] == [
        {
            "format": "alpaca",
            "split": "validation",
            "file": "exp/formats/alpaca/validation.jsonl",
            "reason": "empty_split",
            "message": "no line: " + refused.format(1, "validation"),
        },
        {
            "format": "preference",
            "file": "exp/formats/preference",
            "reason": "empty_format",
            "message": "no line in any split: "
            + refused.format(4, "train")
            + "; "
            + refused.format(1, "validation"),
        },
    ]


def test_an_empty_split_fails_the_stage_with_fail_on_empty(run, workdir: Path) -> None:
    """What `max_samples=5` gives: no validation record at all, so every validation file
    is empty. A warning by default; with fail_on_empty, exit 1 after the report."""
    export_to_exp(run, workdir, [])
    run_validate(run)
    warned = {(w["format"], w.get("split"), w["reason"]) for w in metrics(workdir)["warning_list"]}
    formats = {p.name for p in (workdir / "exp" / "formats").iterdir()}
    assert warned == {(name, "validation", "empty_split") for name in formats - {"preference"}} | {
        ("preference", None, "empty_format")
    }
    (workdir / "val" / "metrics.json").unlink()
    result = run_validate(run, "--fail-on-empty", exit_code=1)
    assert (
        f"Error: {len(formats)} empty split(s) or format(s), listed in val/metrics.json "
        "(warning_list); first: alpaca: exp/formats/alpaca/validation.jsonl: empty_split: "
        "no line: the validation split has no records (--no-fail-on-empty accepts them)\n"
    ) in result.output
    assert metrics(workdir)["warnings_total"] == len(formats)  # the report is written first
    (workdir / "params.yaml").write_text("validate:\n  fail_on_empty: true\n")
    run_validate(run, exit_code=1)
    run_validate(run, "--no-fail-on-empty")


def test_outputs_do_not_depend_on_workers_or_spans(run, workdir, exported, monkeypatch) -> None:
    openai = exported / "formats" / "openai" / "train.jsonl"
    lines = openai.read_text().splitlines()
    bad = json.loads(lines[1])
    bad["messages"][2]["content"] = [{"type": "text", "text": "caught 3"}]
    openai.write_text("\n".join([lines[0], json.dumps(bad), *lines[2:]]) + "\n")
    qwen = exported / "formats" / "qwen" / "train.jsonl"
    qwen.write_text("".join(qwen.read_text().splitlines(keepends=True)[:-1]) + "not json\n")
    run_validate(run, "--no-fail-on-error", "--jobs", "1")
    val = workdir / "val"
    whole = {p.relative_to(val): p.read_bytes() for p in sorted(val.rglob("*")) if p.is_file()}
    assert whole[Path("errors.jsonl")].count(b"\n") == 3  # the three errors below, written
    # the list-valued content breaks the schema and the tool rule; the cut qwen line is no JSON
    assert metrics(workdir)["errors"] == {
        "invalid_json": 1,
        "schema_anyOf": 1,
        "tool_content_not_string": 1,
    }
    # Spans of 13 bytes, on two workers: most start and end inside a line, many hold none.
    monkeypatch.setattr("stages.validate.SPAN_BYTES", 13)
    spans_per_file: list[int] = []
    make_spans = validate.file_spans

    def counted(*args: Any) -> list[validate.SpanCheck]:
        tasks = make_spans(*args)
        spans_per_file.append(len(tasks))
        return tasks

    monkeypatch.setattr("stages.validate.file_spans", counted)
    run_validate(run, "--no-fail-on-error", "--jobs", "2")
    split = {p.relative_to(val): p.read_bytes() for p in sorted(val.rglob("*")) if p.is_file()}
    assert max(spans_per_file) > len(lines)  # more spans than lines
    assert split == whole


def test_line_places_read_like_the_dict_of_line_to_id() -> None:
    ids = [f"r{i}" for i in range(8)]
    # the next lines in order, repeats (of the last line and of one before), a gap, and two
    # corrupt lines
    placements = [(0, 0), (1, 1), (1, 2), (3, 3), (4, 4), (0, 5), (-1, 6), (10**12, 7)]
    places = LinePlaces(ids)
    expected: dict[int, str] = {}
    for line, position in placements:
        places.place(line, position)
        expected[line] = ids[position]
    assert dict(places) == expected and len(places) == len(expected) == 6
    assert 2 not in places and places.get(2) is None and places[1] == "r2" and places[0] == "r5"


def test_a_line_placed_aside_is_one_line_once_the_positions_reach_it() -> None:
    """Placed past the gap (corrupt metadata), a line is kept aside; when later lines bring
    the positions to it, it moves into them, replaced by a later placement of its own."""
    far = MAX_GAP + 5
    places = LinePlaces([f"r{i}" for i in range(5)])
    for line, position in [(far, 0), (far + 1, 1), (0, 2), (MAX_GAP, 3), (far + 1, 4)]:
        places.place(line, position)
    expected = {0: "r2", MAX_GAP: "r3", far: "r0", far + 1: "r4"}
    assert sorted(places) == sorted(expected) and len(places) == 4
    assert {line: places[line] for line in places} == expected and far in places


def test_lines_that_can_never_be_reached_are_not_looked_at_again(monkeypatch) -> None:
    """Negative lines stay aside: the placements after them do not scan the aside lines."""
    places = LinePlaces([f"r{i}" for i in range(1003)])
    for k in range(3):
        places.place(-1 - k, k)
    monkeypatch.setattr(LinePlaces, "_take_aside", lambda *_: pytest.fail("scanned aside"))
    for line in range(1000):
        places.place(line, 3 + line)
    assert len(places) == 1003 and places[-2] == "r1" and places[999] == "r1002"


def test_tool_definitions_count_as_their_compact_json_each_time() -> None:
    """Definitions recur on every line and are counted once: a second line with the same
    ones, or with others, still gets its own exact count."""
    walk = {"type": "function", "function": {"name": "walk_to", "description": "Walk to é"}}
    fish = {"type": "function", "function": {"name": "fish", "description": "Fish here"}}
    bare = count_tokens({})
    for tools in ([walk], [walk, fish], [walk], [fish, walk]):
        compact = json.dumps(tools, separators=(",", ":"))  # é written as \u00e9
        assert count_tokens({"tools": tools}) - bare == count_o200k(compact)
    assert count_tokens({"tools": [walk, fish]}) != count_tokens({"tools": [walk]})


def test_tool_definitions_msgspec_writes_alike_are_counted_apart() -> None:
    """msgspec writes NaN as null and cannot write a lone surrogate; json.dumps writes NaN
    and escapes the surrogate (a foreign file decoded with json.loads can hold both)."""
    bare = count_tokens({})
    for value in (None, float("nan"), float("inf"), "\ud83d"):
        tools = [{"type": "function", "function": {"name": "f", "parameters": {"x": value}}}]
        compact = json.dumps(tools, separators=(",", ":"))
        assert count_tokens({"tools": tools}) - bare == count_o200k(compact), value
