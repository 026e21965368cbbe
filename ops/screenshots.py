"""Screenshots of the web page's main views for docs/web.md, taken in headless Chromium.

    .venv/bin/python ops/screenshots.py                 # starts its own stack, then stops it
    .venv/bin/python ops/screenshots.py --url http://127.0.0.1:8080   # a running stack

The running stack must have development sign-in on (no OIDC issuer). Each run signs in as a
fresh tenant, uploads a generated document, asks a question about it and saves the views to
docs/screenshots/ (or --out).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

import pdfgen
from cli.stack import scratch_stack
from storage import migrate_database

CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SEED = 7
QUESTION = "How many deliveries does the ledger record on page 2?"


async def shoot(url: str, out: Path) -> None:
    tenant = f"demo-{uuid.uuid4().hex[:6]}"
    expect.set_options(timeout=120_000)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        laptop = await (await browser.new_context(base_url=url, viewport=LAPTOP)).new_page()
        await laptop.goto("/")
        await expect(laptop.get_by_label("Tenant")).to_be_visible()
        await _save(laptop, out, "sign-in")
        await _sign_in(laptop, tenant)
        await _documents(laptop, out)
        await _answer(laptop, out)
        phone = await (await browser.new_context(base_url=url, viewport=PHONE)).new_page()
        await _sign_in(phone, tenant)
        await phone.locator("#conversations .conversation").first.click()  # history
        await expect(phone.locator("#messages .citation")).not_to_have_count(0)
        await _save(phone, out, "phone", full_page=True)
        await browser.close()


async def _sign_in(page: Page, tenant: str) -> None:
    await page.goto("/")
    if await page.locator("#dev-signin").is_hidden():
        raise SystemExit(f"{page.url}: development sign-in is off; set PDFCHAT_DEV_LOGIN=true")
    await page.get_by_label("Tenant").fill(tenant)
    await page.get_by_label("User").fill("ann")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#identity")).to_contain_text(tenant)


async def _documents(page: Page, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger-notes.pdf"
        path.write_bytes(pdfgen.sample_pdf(6, seed=SEED))
        await page.set_input_files("#file-input", path)
        await expect(page.locator("#documents .status")).to_have_text("Ready")
    await page.get_by_label("Your question").blur()
    await _save(page, out, "documents")
    await page.get_by_role("button", name="Topics of").click()
    await expect(page.locator("#panel .overview")).to_be_visible()
    await _save(page, out, "topic-map")
    await page.get_by_role("button", name="Close panel").click()


async def _answer(page: Page, out: Path) -> None:
    await page.get_by_label("Your question").fill(QUESTION)
    await page.get_by_role("button", name="Ask", exact=True).click()
    await expect(page.locator("#messages .answer").last).to_have_attribute("aria-busy", "false")
    await _save(page, out, "answer")
    await page.locator(".citation").first.click()
    await page.wait_for_function("() => document.querySelector('#panel img')?.naturalWidth > 0")
    await _save(page, out, "page-viewer")
    await page.get_by_role("button", name="Usage").click()
    await expect(page.locator("#panel .spent")).to_be_visible()
    await _save(page, out, "usage")


async def _save(page: Page, out: Path, name: str, *, full_page: bool = False) -> None:
    await page.screenshot(path=out / f"{name}.png", full_page=full_page)
    print(out / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running stack (default: start one of our own)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs/screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.url:
        asyncio.run(shoot(args.url, args.out))
        return
    stack = scratch_stack(
        migrate_database, prefix="pdfchat-shots-", kafka_heap="512m", topic_partitions=2
    )
    with stack as settings:
        asyncio.run(shoot(settings.web_url, args.out))


if __name__ == "__main__":
    main()
