"""Asking on the page: sign in → upload → ready → ask → streamed answer → citation → page;
by keyboard alone; after a dropped connection; after a reload."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.async_api import Page, WebSocketRoute, expect

import pdfgen
from config import Settings
from tests.browser.pageparts import WATCH_ANSWERS, ask, drop_files, session_value, words

pytestmark = pytest.mark.stack

SEED = 71


def _fact(page_number: int) -> str:
    """The sentence of the test document that names ``page_number`` (see pdfgen)."""
    blocks = pdfgen.sample_document(3, seed=SEED)[page_number - 1]
    text = next(text for _, text in blocks if f"On page {page_number} the ledger" in text)
    start = text.index(f"On page {page_number} the ledger")
    return text[start : text.index(".", start) + 1]


def _question(page_number: int) -> str:
    place = re.search(r"ledger of (.+?) records", _fact(page_number)).group(1)
    return f"How many deliveries does the ledger of {place} record on page {page_number}?"


async def _upload_and_wait(page: Page) -> None:
    await drop_files(page, [("ledger.pdf", pdfgen.sample_pdf(3, seed=SEED))])
    await expect(page.locator("#documents li.document .status")).to_have_text("Ready")


def _answer(page: Page):
    return page.locator("#messages .message.assistant .content").last


async def _finished_answer(page: Page) -> str:
    answer = _answer(page)
    await expect(answer).to_have_attribute("aria-busy", "false")
    await expect(page.locator("#messages .message.assistant .error").last).to_be_empty()
    return await answer.text_content() or ""


async def test_ask_and_open_the_cited_page(page: Page, sign_in):
    await sign_in(page)
    await _upload_and_wait(page)
    await page.evaluate(WATCH_ANSWERS)
    await ask(page, _question(2))

    text = await _finished_answer(page)
    number = re.search(r"exactly (\d+) deliveries", _fact(2)).group(1)
    assert number in text, text
    seen = await page.evaluate("window.__seen.answers")
    growing = [t for t in dict.fromkeys(seen) if t]
    assert len(growing) >= 3, f"the answer did not stream in: {seen}"
    assert all(text.startswith(t) for t in growing)  # each update adds to the one before

    citation = page.locator(".citation", has_text="page 2").first
    quote = await citation.get_attribute("title") or ""
    await citation.click()
    panel = page.locator("#panel")
    await expect(panel.locator("#panel-heading")).to_contain_text("Notes on")
    await expect(panel.locator("#panel-heading")).to_contain_text("page 2")
    await expect(panel.locator("#panel-heading")).to_be_focused()
    await page.wait_for_function(
        "() => document.querySelector('#panel img.page-image')?.naturalWidth > 0"
    )
    mark = panel.locator(".page-text mark")
    await expect(mark).to_have_count(1)
    marked = words(await mark.text_content() or "")
    assert len(marked.split()) >= 4 and words(quote).startswith(marked), (marked, quote)
    assert words(_fact(2)) in words(await panel.locator(".page-text").text_content() or "")


async def test_a_question_by_keyboard_alone(page: Page, tenant: str):
    await page.goto("/")
    await expect(page.get_by_label("Tenant")).to_be_focused()
    await page.keyboard.press("Control+A")
    await page.keyboard.type(tenant)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("kim")
    await page.keyboard.press("Enter")  # submits the sign-in form
    await expect(page.locator("#identity")).to_contain_text(f"kim @ {tenant}")
    await _upload_and_wait(page)  # uploading by keyboard is the file picker, tested elsewhere

    # Signing in puts the focus in the question box.
    await expect(page.get_by_label("Your question")).to_be_focused()
    await page.keyboard.type(_question(3))
    await page.keyboard.press("Enter")
    await _finished_answer(page)

    citation = page.locator(".citation").last
    for _ in range(10):  # back from the question box to the answer's last citation
        await page.keyboard.press("Shift+Tab")
        focused = await page.evaluate("""() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {citation: el.classList.contains("citation"),
                    outline: style.outlineStyle !== "none" && style.outlineWidth !== "0px"};
        }""")
        assert focused["outline"], "the focused element shows no focus ring"
        if focused["citation"]:
            break
    await expect(citation).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#panel-heading")).to_be_focused()
    await page.wait_for_function(
        "() => document.querySelector('#panel img.page-image')?.naturalWidth > 0"
    )
    await page.keyboard.press("Escape")
    await expect(page.locator("#panel")).to_be_hidden()
    await expect(citation).to_be_focused()


async def test_a_dropped_connection_resumes_without_losing_or_repeating_text(
    page: Page, sign_in, settings: Settings
):
    connections: list[str] = []

    async def relay(ws: WebSocketRoute) -> None:
        """Pass the socket through; on the first connection, cut it after three tokens, as a
        network drop would."""
        connections.append(ws.url)
        server = ws.connect_to_server()
        tokens = 0

        async def from_server(message: str | bytes) -> None:
            nonlocal tokens
            if len(connections) == 1:
                if tokens >= 3:
                    return  # lost in the drop
                if json.loads(message)["type"] == "token":
                    tokens += 1
                ws.send(message)
                if tokens == 3:
                    await ws.close(code=1001, reason="network drop (test)")
                    await server.close()
                return
            ws.send(message)

        server.on_message(from_server)

    await page.route_web_socket(re.compile(r"/v1/chat/stream/"), relay)
    await sign_in(page)
    await _upload_and_wait(page)
    await page.evaluate(WATCH_ANSWERS)
    await ask(page, _question(1))
    shown = await _finished_answer(page)

    assert len(connections) == 2, connections
    assert "last_token_seq=" not in connections[0]
    assert re.search(r"last_token_seq=\d+", connections[1]), connections[1]
    statuses = await page.evaluate("window.__seen.statuses")
    assert "Connection lost; reconnecting…" in statuses, statuses
    saved = await _saved_answer(page, settings)
    assert shown == saved  # every token once, in order


async def _saved_answer(page: Page, settings: Settings) -> str:
    """The answer as the server stored it in the conversation."""
    conversation = await session_value(page, "pdfchat.conversation")
    token = await session_value(page, "pdfchat.token")
    async with httpx.AsyncClient(base_url=settings.web_url) as http:
        response = await http.get(
            f"/v1/conversations/{conversation}", headers={"Authorization": f"Bearer {token}"}
        )
    response.raise_for_status()
    return [m for m in response.json()["messages"] if m["role"] == "assistant"][-1]["content"]


async def test_history_and_usage_survive_a_reload(page: Page, sign_in):
    await sign_in(page)
    await _upload_and_wait(page)
    await ask(page, _question(2))
    answer = await _finished_answer(page)
    await page.reload()

    await expect(page.locator("#messages .message.user")).to_have_text(["You" + _question(2)])
    await expect(_answer(page)).to_have_text(answer)
    await expect(page.locator("#messages .citation").first).to_be_visible()
    await expect(page.locator("#conversations .conversation")).to_have_count(1)
    await expect(page.locator('#conversations [aria-current="true"]')).to_have_count(1)

    await page.get_by_role("button", name="Usage").click()
    panel = page.locator("#panel")
    await expect(panel.locator(".spent")).to_contain_text("Spent $")
    await expect(panel.locator(".usage-table tbody tr")).not_to_have_count(0)

    await ask(page, "And on page 3?")  # the same conversation goes on
    await _finished_answer(page)
    await expect(page.locator("#messages .message.user")).to_have_count(2)
    await expect(page.locator("#conversations .conversation")).to_have_count(1)


async def test_an_answer_the_documents_do_not_hold_is_told_apart(page: Page, sign_in):
    await sign_in(page)
    await _upload_and_wait(page)
    await ask(page, "What is the airspeed velocity of an unladen swallow?")
    await _finished_answer(page)
    refusal = page.locator("#messages .message.assistant").last
    await expect(refusal).to_have_class(re.compile(r"\bnot-found\b"))
    await expect(refusal.locator(".not-found-hint")).to_have_text(
        "Not in your documents. Try other words."
    )
    await expect(refusal.locator(".citation")).to_have_count(0)

    await ask(page, _question(2))  # an answer is not marked
    await _finished_answer(page)
    await expect(page.locator("#messages .message.assistant").last).not_to_have_class(
        re.compile(r"\bnot-found\b")
    )
    await page.reload()  # nor is either after a reload: the conversation keeps `found`
    await expect(page.locator("#messages .message.assistant.not-found")).to_have_count(1)
    await expect(page.locator("#messages .not-found-hint")).to_have_count(1)


async def test_an_answer_is_rated_and_rated_again(page: Page, sign_in, tenant: str, db):
    await sign_in(page)
    await _upload_and_wait(page)
    await ask(page, _question(2))
    await _finished_answer(page)
    good = page.get_by_role("button", name="Good answer")
    poor = page.get_by_role("button", name="Poor answer")
    await good.click()
    await expect(good).to_have_attribute("aria-pressed", "true")
    await expect(poor).to_have_attribute("aria-pressed", "false")

    async def rating() -> int | None:
        return await db.fetchval("SELECT rating FROM answer_feedback WHERE tenant_id = $1", tenant)

    assert await rating() == 1
    await poor.click()
    await expect(poor).to_have_attribute("aria-pressed", "true")
    await expect(good).to_have_attribute("aria-pressed", "false")
    assert await rating() == -1
    await page.reload()  # a saved answer can be rated too
    await expect(page.get_by_role("button", name="Good answer")).to_be_visible()
