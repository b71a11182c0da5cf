"""The review page in a real headless browser (Debian's chromium through Playwright), over a
dataset the real `dvc repro` built in a temporary git repository: filter, open, label, save,
rebuild, and see the export change; hostile record text stays text; a stale tab cannot
overwrite another tab's save."""

import json
import re
from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from stages.annotations import load_annotations
from tests.dvc_repo import DvcRepo
from tests.review_browser import launch, review_server

pytestmark = pytest.mark.xdist_group("review_browser")

HOSTILE = "show <img src=x onerror=window.__xss=1> please"
TOOL_OUTPUT = "<script>window.__xss=2</script>"
CORRECTION = "The goblin is out of range, so I could not attack it. Shall I walk closer first?"
GOBLIN = "702ed638203ebbe0"  # data/samples/botlog: "attack the goblin", a false claim after it


class Review:
    def __init__(self, repo: DvcRepo, url: str, browser: Browser) -> None:
        self.repo, self.url, self.browser = repo, url, browser

    def page(self) -> Page:
        page = self.browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        page.goto(self.url)
        expect(page.locator("#total")).to_contain_text("records")
        return page

    def open_record(self, page: Page, text: str) -> None:
        page.fill("#search", text)
        page.press("#search", "Enter")
        expect(page.locator("#list tbody tr").first).to_contain_text(text)
        page.locator("#list tbody tr").first.click()
        expect(page.locator("#turns")).to_be_visible()

    def annotations(self) -> str:
        return (self.repo.path / "data/annotations.yaml").read_text()


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Review]:
    tmp = tmp_path_factory.mktemp("review")
    repo = DvcRepo.copy_of_project(tmp / "repo", tmp)
    line = {
        "timestamp": "2026-11-03T10:00:00Z",
        "user_query": HOSTILE,
        "tool_name": "get_inventory",
        "arguments": "{}",
        "status": "success",
        "output": TOOL_OUTPUT,
        "final_response": "Here it is: <b>bold</b> & done.",
        "rating": 4,
    }
    with open(repo.path / "data/samples/toollog/tools_2026-11-03.jsonl", "a") as handle:
        handle.write("\n" + json.dumps(line) + "\n")  # the sample ends in a torn line
    repo.dvc("repro")
    with sync_playwright() as playwright, review_server(repo.path, repo.env) as url:
        browser = launch(playwright)
        yield Review(repo, url, browser)
        browser.close()


def test_filter_counts_and_keyboard(review: Review) -> None:
    page = review.page()
    total = int(page.locator("#total").inner_text().split()[0])
    botlog = page.locator("fieldset[data-facet=source] label", has_text="botlog")
    shown = int(botlog.locator(".count").inner_text())
    assert 0 < shown < total
    botlog.locator("input").check()
    expect(page.locator("#total")).to_have_text(f"{shown} of {total} records")
    sources = page.locator("#list tbody tr td:nth-child(4)").all_inner_texts()
    assert sources and set(sources) == {"botlog"}
    page.keyboard.press("Enter")
    expect(page.locator("#turns")).to_be_visible()
    first = page.locator("#record-id").inner_text()
    page.keyboard.press("j")
    expect(page.locator("#record-id")).not_to_have_text(first)
    page.keyboard.press("k")
    expect(page.locator("#record-id")).to_have_text(first)
    page.keyboard.press("Escape")
    expect(page.locator("#total")).to_have_text(f"{shown} of {total} records")
    negative = page.locator("fieldset[data-facet=example_type] label", has_text="negative")
    negatives = int(negative.locator(".count").inner_text())
    negative.locator("input").check()
    expect(page.locator("#total")).to_have_text(f"{negatives} of {total} records")
    types = page.locator("#list tbody tr td:nth-child(5)").all_inner_texts()
    assert types and set(types) == {"negative"}
    page.close()


def test_record_text_is_shown_as_text(review: Review) -> None:
    page = review.page()
    review.open_record(page, "src=x onerror")  # "AssertionError" holds "onerror" too
    turns = page.locator("#turns")
    expect(turns).to_contain_text(HOSTILE)
    expect(turns).to_contain_text(TOOL_OUTPUT)
    expect(turns).to_contain_text("<b>bold</b> & done.")
    assert page.locator("#turns img, #turns script, #turns b").count() == 0
    assert page.evaluate("window.__xss") is None
    page.close()


def test_a_stale_tab_cannot_overwrite_a_save(review: Review) -> None:
    first, second = review.page(), review.page()
    for page in (first, second):
        review.open_record(page, "go to the draynor bank")
    first.fill("#rating", "2")
    first.click("#save")
    expect(first.locator("#message")).to_contain_text("Saved")
    second.fill("#rating", "5")
    second.click("#save")
    expect(second.locator("#message")).to_contain_text("changed elsewhere")
    labels = yaml.safe_load(review.annotations())
    record_id = first.locator("#record-id").inner_text()
    assert labels[record_id]["rating"] == 2
    first.close()
    second.close()


def test_labels_saved_reach_the_export(review: Review) -> None:
    before = review.annotations()
    page = review.page()
    review.open_record(page, "attack the goblin")
    assert page.locator("#record-id").inner_text() == GOBLIN
    expect(page.locator("#refused")).to_contain_text("negative_without_correction")
    page.fill("#correction_content", CORRECTION)
    page.fill("#root_cause", "reported the attack without reading the tool's error")
    page.locator("body").click()
    page.keyboard.press("3")  # negative
    page.keyboard.press("s")
    expect(page.locator("#message")).to_contain_text("Saved")
    expect(page.locator("#pending")).to_contain_text("correction")
    text = review.annotations()
    assert text.startswith(before.split('"75ef')[0])  # the header comments stay as they were
    assert GOBLIN in load_annotations(review.repo.path / "data/annotations.yaml", required=True)

    exported = review.repo.path / "data/export/formats/openai/train.jsonl"
    assert CORRECTION not in exported.read_text()
    ran = review.repo.stages_run(review.repo.dvc("repro"))
    assert ran[-4:] == ["curate", "export", "validate", "card"] and "enrich" in ran
    line = next(json.loads(x) for x in exported.read_text().splitlines() if CORRECTION in x)
    assert line["messages"][-1] == {"role": "assistant", "content": CORRECTION}
    assert "goblin" in line["messages"][0]["content"]

    page.reload()
    expect(page.locator("#pending")).to_contain_text("Nothing")
    assert page.locator("#refused").count() == 0
    last = page.locator("#turns .turn").last
    expect(last).to_contain_text(CORRECTION)
    expect(last.locator(".badge.loss")).to_have_text("trains")
    expect(page.locator("#exported summary")).to_have_text(
        re.compile(r"Line \d+ of formats/openai/train\.jsonl")
    )
    page.close()
