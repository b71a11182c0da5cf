"""The screenshots of docs/review.md, taken in the headless browser the tests use, over the
dataset `dvc repro` built in this checkout.

    python -m tests.review_screenshots
"""

from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.review_browser import launch, review_server

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
VIEWPORT = {"width": 1200, "height": 720}


def main() -> None:
    with sync_playwright() as playwright, review_server(REPO) as url:
        browser = launch(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url + "#/?source=botlog")
        expect(page.locator("#list tbody tr").first).to_be_visible()
        page.screenshot(path=DOCS / "review-list.png")
        page.fill("#search", "attack the goblin")
        page.press("#search", "Enter")
        expect(page.locator("#list tbody tr").first).to_contain_text("attack the goblin")
        page.locator("#list tbody tr").first.click()
        expect(page.locator("#turns")).to_be_visible()
        page.screenshot(path=DOCS / "review-record.png")
        browser.close()


if __name__ == "__main__":
    main()
