"""Helpers that drive the page the way a person does, and watch what they would see."""

from __future__ import annotations

import base64
import re

from playwright.async_api import Page

# Records the text of the newest answer at every change, and every stream status shown, so a
# test can tell an answer that streamed in from one that appeared at once.
WATCH_ANSWERS = """() => {
    window.__seen = {answers: [], statuses: []};
    const messages = document.getElementById("messages");
    const status = document.getElementById("stream-status");
    new MutationObserver(() => {
        const answers = messages.querySelectorAll(".message.assistant .content");
        if (answers.length) window.__seen.answers.push(answers[answers.length - 1].textContent);
    }).observe(messages, {childList: true, subtree: true, characterData: true});
    new MutationObserver(() => window.__seen.statuses.push(status.textContent))
        .observe(status, {childList: true, subtree: true, characterData: true});
}"""

DROP_FILES = """(zone, files) => {
    const transfer = new DataTransfer();
    for (const f of files) {
        const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], f.name, {type: "application/pdf"}));
    }
    for (const type of ["dragenter", "dragover", "drop"]) {
        zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true,
                                                cancelable: true}));
    }
}"""


async def drop_files(page: Page, files: list[tuple[str, bytes]]) -> None:
    """Drag files from the desktop onto the drop zone (a real drop event with real files)."""
    payload = [{"name": name, "data": base64.b64encode(data).decode()} for name, data in files]
    await page.locator("#dropzone").evaluate(DROP_FILES, payload)


async def ask(page: Page, question: str) -> None:
    await page.get_by_label("Your question").fill(question)
    await page.get_by_role("button", name="Ask", exact=True).click()


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


async def no_horizontal_scroll(page: Page) -> bool:
    return await page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


async def session_value(page: Page, key: str) -> str | None:
    return await page.evaluate("(key) => sessionStorage.getItem(key)", key)
