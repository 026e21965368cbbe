"""The page without answers: sign in, upload with progress, live status, failures, delete,
topic map, and a phone-sized screen."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

import pdfgen
from tests.browser.pageparts import drop_files, no_horizontal_scroll

pytestmark = pytest.mark.stack


async def test_a_bad_token_is_refused_in_words(page: Page):
    await page.goto("/")
    await page.get_by_label("Access token").fill("eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl")
    await page.get_by_role("button", name="Use this token").click()
    alert = page.locator("#signin-error")
    await expect(alert).to_have_text(
        "This token was not accepted: it may have expired, be meant"
        " for another server, or be incomplete. Please check it, or"
        " get a new one."
    )
    await expect(page.locator("#workspace")).to_be_hidden()


async def test_upload_with_the_file_picker_shows_progress_then_live_status(
    page: Page, sign_in, tmp_path
):
    await sign_in(page)
    # Slow the network down so the upload takes a few seconds and its progress can be seen.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": 90_000,
        },
    )
    await page.evaluate("""() => {
        window.__notes = [];
        new MutationObserver(() => document.querySelectorAll("#uploads .upload-note")
            .forEach((n) => window.__notes.push(n.textContent)))
          .observe(document.getElementById("uploads"),
                   {childList: true, subtree: true, characterData: true});
    }""")
    path = tmp_path / "long-report.pdf"
    # ~270 KB: 3 s at 90 KB/s (and under the test stack's limit of 400 pages)
    path.write_bytes(pdfgen.big_pdf(250, seed=61))
    async with page.expect_file_chooser() as chooser:
        await page.get_by_text("Choose PDFs…").click()
    await (await chooser.value).set_files(path)

    await expect(page.locator("#uploads .upload-note")).to_have_text("Uploaded")
    notes = await page.evaluate("window.__notes")
    partial = [
        n
        for n in notes
        if n.startswith("Uploading… ") and n not in ("Uploading… 0%", "Uploading… 100%")
    ]
    assert partial, notes
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": -1,
        },
    )

    item = page.locator("#documents li.document")
    await expect(item).to_have_count(1)
    await expect(item.locator(".status")).to_have_text("Ready")
    await expect(item.locator(".doc-name")).to_contain_text("Notes on")
    await expect(item).to_contain_text("250 pages")
    await expect(page.locator("#announcer")).to_contain_text("Ready")


async def test_a_failed_document_says_why_and_can_be_deleted(page: Page, sign_in, api, tenant):
    await sign_in(page)
    await drop_files(page, [("locked.pdf", pdfgen.encrypted_pdf())])
    item = page.locator("#documents li.document")
    await expect(item.locator(".status")).to_have_text("Failed")
    await expect(item.locator(".doc-error")).to_contain_text("protected by a password")

    page.once("dialog", lambda dialog: dialog.accept())
    await item.get_by_role("button", name="Delete locked.pdf").click()
    await expect(item).to_have_count(0)
    await expect(page.locator("#documents-empty")).to_be_visible()
    assert await api(tenant).documents() == []


async def test_topic_map_and_reading_guide_link_to_pages(page: Page, sign_in, api, tenant):
    client = api(tenant)
    document_id = (await client.upload(pdfgen.sample_pdf(6, seed=63), "notes.pdf"))["document_id"]
    await sign_in(page)
    item = page.locator(f'#documents li[data-id="{document_id}"]')
    await expect(item.locator(".status")).to_have_text("Ready")
    await item.get_by_role("button", name="Topics of").click()
    panel = page.locator("#panel")
    await expect(panel.locator(".overview")).to_contain_text("covers")
    await expect(panel.locator(".topic").first).to_contain_text("Key terms:")
    await panel.locator(".topic-pages a").first.click()
    await expect(panel.locator("#panel-heading")).to_contain_text(", page ")
    await page.wait_for_function(
        "() => document.querySelector('#panel img.page-image')?.naturalWidth > 0"
    )
    await expect(panel.locator(".page-text p").first).not_to_be_empty()


async def test_a_phone_sized_screen_has_no_sideways_scrolling(phone: Page, sign_in, api, tenant):
    await phone.goto("/")
    await expect(phone.get_by_label("Tenant")).to_be_visible()
    assert await no_horizontal_scroll(phone)

    client = api(tenant)
    document_id = (
        await client.upload(
            pdfgen.sample_pdf(2, seed=64), "a-rather-long-file-name-for-a-small-screen.pdf"
        )
    )["document_id"]
    await sign_in(phone)
    item = phone.locator(f'#documents li[data-id="{document_id}"]')
    await expect(item.locator(".status")).to_have_text("Ready")
    assert await no_horizontal_scroll(phone)
    box = await phone.get_by_label("Your question").bounding_box()
    assert box and box["width"] >= 300  # the question box uses the width of the screen

    await item.get_by_role("button", name="Topics of").click()
    panel = phone.locator("#panel")
    await expect(panel.locator(".overview")).to_be_visible()
    panel_box = await panel.bounding_box()
    assert panel_box and panel_box["width"] == 390  # covers the screen
    assert await no_horizontal_scroll(phone)
    await phone.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(item.get_by_role("button", name="Topics of")).to_be_focused()
