"""What each document is about: the evaluation sets' PDFs asked so, end to end.

    .venv/bin/python ops/eval/overviews.py [--set legal|debian|chinese|european|all]

Starts its own stack, ingests each set's PDFs for a tenant of its own, waits for their topic
maps, then asks "What is this document about?" of each document alone (``document_ids``).
Prints, per document, the pages its answer cites, whether the first of them is in the
document's opening (its first tenth, or its first three pages), and how the answer begins.
There is no right answer to grade against; the table is for reading. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

# The repository root first (see ops/eval/answers.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cli.client import ApiError, PdfchatClient
from cli.stack import scratch_stack
from core.tokens import mint
from ops.eval.retrieval import SETS, ingest
from ops.eval.sets import EvalSet
from storage import migrate_database

QUESTION = "What is this document about?"
MAP_WAIT_S = 600.0


async def overviews(base_url: str, token: str, eval_set: EvalSet) -> list[str]:
    async with PdfchatClient(base_url, token, timeout=300) as client:
        ids = await ingest(client, eval_set.documents, eval_set.pdfs, wait_s=600)
        async with asyncio.timeout(MAP_WAIT_S):
            for document_id in ids.values():
                await _mapped(client, document_id)
        rows = []
        for name, document_id in ids.items():
            pages = (await client.document(document_id))["pages"]
            text, cited = await _ask(client, document_id)
            opening = bool(cited) and cited[0] <= max(3, pages // 10)
            begins = " ".join(text.split())[:110].replace("|", "/")
            rows.append(f"| {name} | {pages} | {cited} | {'yes' if opening else 'no'} | {begins} |")
    return rows


async def _mapped(client: PdfchatClient, document_id: str) -> None:
    while True:
        try:
            await client.topics(document_id)
            return
        except ApiError as exc:
            if exc.status != 409:  # topics_not_ready
                raise
            await asyncio.sleep(0.5)


async def _ask(client: PdfchatClient, document_id: str) -> tuple[str, list[int]]:
    started = await client.chat(QUESTION, document_ids=[document_id])
    text: list[str] = []
    cited: list[int] = []
    async for message in client.answer(started["stream_session_id"]):
        if message["type"] == "token":
            text.append(message["content"])
        elif message["type"] == "citations":
            cited = list(dict.fromkeys(i["page"] for i in message["items"]))
    return "".join(text), cited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", dest="eval_set")
    args = parser.parse_args()
    names = list(SETS) if args.eval_set == "all" else [args.eval_set]
    with scratch_stack(migrate_database, prefix="pdfchat-eval-", log_level="WARNING") as settings:
        for name in names:
            token = mint(settings, tenant=name, user="eval", roles=["editor"])
            print(f"\n## {name}: {QUESTION!r}, of each document alone\n")
            print("| document | pages | pages cited | opens at its start | the answer begins |")
            print("|---|---|---|---|---|")
            for row in asyncio.run(overviews(settings.web_url, token, SETS[name]())):
                print(row)


if __name__ == "__main__":
    main()
