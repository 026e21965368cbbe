"""``pdfchat ingest FILE...``: upload, then a progress bar per document until it settles."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cli.client import TERMINAL_STATUSES, ApiError, PdfchatClient

# How far along each status is, out of STEPS.
STEP_OF_STATUS = {
    "uploading": 0,
    "queued": 1,
    "parsing": 2,
    "parsed": 3,
    "embedding": 4,
    "ready": 5,
    "failed": 5,
}
STEPS = 5
POLL_S = 0.2


async def ingest(base_url: str, token: str, paths: list[Path], console: Console) -> int:
    """Returns the number of documents that failed (to upload or to parse)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    async with PdfchatClient(base_url, token) as client:
        with Progress(*columns, console=console) as progress:
            outcomes = await asyncio.gather(*(_one(client, progress, p) for p in paths))
    # The bars truncate to the terminal's width; the reasons are worth reading whole.
    for path, problem in zip(paths, outcomes, strict=True):
        if problem:
            console.print(f"[red]{path.name}[/]: {problem}")
    return sum(1 for problem in outcomes if problem)


async def _one(client: PdfchatClient, progress: Progress, path: Path) -> str | None:
    """Follow one file to the end; returns what went wrong, or None."""
    bar = progress.add_task(path.name, total=STEPS, status="uploading")
    try:
        data = await asyncio.to_thread(path.read_bytes)
        created = await client.upload(data, path.name)
    except (OSError, ApiError) as exc:
        progress.update(bar, status="[red]not uploaded")
        return f"not uploaded: {exc}"
    document_id = created["document_id"]
    while True:
        document = await client.document(document_id)
        _show(progress, bar, document)
        if document["status"] == "failed":
            return f"failed ({document['error_code']}): {document['error']}"
        if document["status"] in TERMINAL_STATUSES:
            return None
        await asyncio.sleep(POLL_S)


def _counted(count: int | None, noun: str) -> str:
    """ "1 page", "2 pages"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _show(progress: Progress, bar: TaskID, document: dict[str, Any]) -> None:
    status = document["status"]
    text = status
    if status == "failed":
        text = "[red]failed"
    elif status == "ready":
        pages, segments = document.get("pages"), document.get("segments")
        text = f"[green]{status}[/] ({_counted(pages, 'page')}, {_counted(segments, 'segment')})"
    done = STEPS if status in TERMINAL_STATUSES else STEP_OF_STATUS.get(status, 0)
    progress.update(bar, completed=done, status=text)
