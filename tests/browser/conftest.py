"""Headless Chromium (Debian's package, started by Playwright) against the session's real stack.

`make install` puts Chromium at /usr/bin/chromium; Playwright never downloads a browser here.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from cli.stack import Stack
from config import Settings

CHROMIUM = Path("/usr/bin/chromium")
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Waits for the stack (parsing, embedding, answering), not for the page itself.
expect.set_options(timeout=90_000)


@pytest.fixture(autouse=True)
def _running_stack(stack: Stack) -> Stack:
    return stack


def _chromium() -> str:
    found = CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")
    if not found:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make install` (it installs Debian's"
            " chromium package) or `apt-get install chromium`"
        )
    return str(found)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root, as CI does.
        browser = await playwright.chromium.launch(
            executable_path=_chromium(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        await browser.close()


@asynccontextmanager
async def _page(browser: Browser, settings: Settings, viewport: dict[str, int]):
    """A page in a fresh context (its own sessionStorage); fails the test on any uncaught
    error in the page's scripts."""
    context = await browser.new_context(base_url=settings.web_url, viewport=viewport)
    context.set_default_timeout(30_000)
    errors: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
async def page(browser: Browser, settings: Settings) -> AsyncIterator[Page]:
    async with _page(browser, settings, LAPTOP) as page:
        yield page


@pytest.fixture
async def phone(browser: Browser, settings: Settings) -> AsyncIterator[Page]:
    async with _page(browser, settings, PHONE) as page:
        yield page


@pytest.fixture
def sign_in(tenant: str) -> Callable[[Page], Awaitable[None]]:
    """Sign in through the page's development form as user "ann" of the test's tenant."""

    async def run(page: Page, *, role: str = "admin") -> None:
        await page.goto("/")
        await page.get_by_label("Tenant").fill(tenant)
        await page.get_by_label("User").fill("ann")
        await page.get_by_label("Role").select_option(role)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await expect(page.locator("#identity")).to_have_text(f"ann @ {tenant} ({role})")

    return run
