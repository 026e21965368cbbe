"""Questions about whole documents ("What is this document about?") on the real stack: the
answer quotes each document's opening (workflows.overview), not passages that mention
"summary", and only of the documents in scope, of the asking tenant."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from cli.client import PdfchatClient
from llm import OVERVIEW_SYSTEM
from tests.llm.fake_chat_apis import FakeChatAPIs
from tests.retrieval.fake_apis import API_KEY
from tests.stack.answers import ask, ready_document
from tests.stack.restart import apps_with

pytestmark = pytest.mark.stack

GUIDE = [
    [("h1", "Keeper's Guide"), ("p", "Version 3, for the keepers of Gull Point.")],
    [
        ("h2", "1 Introduction"),
        (
            "p",
            "This guide explains how to run the Gull Point lighthouse from dusk to dawn. It "
            "covers the lamp, the logbook and the duties of the keeper on watch.",
        ),
    ],
    [
        ("h2", "2 The lamp"),
        (
            "p",
            "The lamp burns paraffin and its wick is trimmed every four hours. Spare wicks are "
            "kept in the store room below the lantern.",
        ),
    ],
]
NOTES = [
    [
        ("h1", "Baking Notes"),
        (
            "p",
            "These notes record how our bakery makes its rye bread. Rye bread needs a sourdough "
            "starter fed the night before, and bakes for fifty minutes at two hundred degrees.",
        ),
    ]
]
SECRET = [[("h1", "Merger Plans"), ("p", "The board intends to buy the harbour company in May.")]]


@pytest.fixture
async def library(api, tenant) -> tuple[PdfchatClient, str, str]:
    await ready_document(api(f"{tenant}-other"), SECRET, "merger-plans.pdf")  # another tenant's
    client = api(tenant)
    guide = await ready_document(client, GUIDE, "keepers-guide.pdf")
    notes = await ready_document(client, NOTES, "baking-notes.pdf")
    return client, guide, notes


async def test_what_a_document_is_about_is_told_from_its_opening(library):
    client, guide, _ = library
    answer, cited = await ask(client, "What is this document about?", document_ids=[guide])
    assert answer.startswith(
        "This guide explains how to run the Gull Point lighthouse from dusk to dawn. It covers "
        "the lamp, the logbook and the duties of the keeper on watch [1]."
    ), answer
    assert (guide, 2) in cited and {d for d, _ in cited} == {guide}


async def test_a_summary_of_a_named_document_quotes_only_that_one(library):
    client, _, notes = library
    answer, cited = await ask(client, "Summarize the baking notes.")
    assert "These notes record how our bakery makes its rye bread" in answer, answer
    assert cited == {(notes, 1)}


async def test_every_document_in_scope_is_named_and_no_other_tenants(library):
    client, guide, notes = library
    answer, cited = await ask(client, "What are these documents about?")
    assert "Keeper's Guide:" in answer and "Baking Notes:" in answer, answer
    assert {d for d, _ in cited} == {guide, notes}
    assert "harbour" not in answer and "Merger" not in answer


async def test_an_overview_of_a_subject_no_title_names_is_searched(library):
    client, _, notes = library
    answer, cited = await ask(client, "Can you give me an overview of how long rye bread bakes?")
    # The sentence that answers, where an overview would open with the document's first one.
    assert answer.startswith("Rye bread needs a sourdough starter"), answer
    assert cited == {(notes, 1)}


async def test_what_a_document_s_whole_name_is_is_told_from_its_opening(library):
    """ "What is Asymptote?" of asymptote.pdf: its opening says, where a search would quote any
    sentence that mentions the name."""
    client, guide, notes = library
    answer, cited = await ask(client, "What is keepers-guide?")
    assert answer.startswith("This guide explains how to run the Gull Point lighthouse"), answer
    assert cited == {(guide, 2)}  # its opening alone: no tour of its topics
    # "Sourdough" is not the whole name of baking-notes.pdf: the question is searched.
    answer, cited = await ask(client, "What is sourdough?")
    assert answer.startswith("Rye bread needs a sourdough starter"), answer
    assert cited == {(notes, 1)}


async def test_a_remote_model_is_asked_to_describe_the_openings(stack, settings, library):
    """Not the question prompt, whose rule (refuse unless a block states the answer) would
    make a remote model refuse: no block states what its document is about."""
    client, guide, _ = library
    with FakeChatAPIs() as fake:
        fake.replies["gpt-4o-mini"] = "A guide to running the Gull Point lighthouse [1]."
        remote = settings.model_copy(
            update={
                "chat_models": "openai:gpt-4o-mini",
                "openai_api_key": SecretStr(API_KEY),
                "openai_base_url": f"{fake.url}/v1",
            }
        )
        with apps_with(stack, remote):
            answer, cited = await ask(client, "What is this document about?", document_ids=[guide])
            messages = fake.calls("gpt-4o-mini")[-1].body["messages"]
    assert answer == "A guide to running the Gull Point lighthouse [1]."
    assert cited == {(guide, 2)}
    assert messages[0] == {"role": "system", "content": OVERVIEW_SYSTEM}
    context = messages[-1]["content"]
    assert context.startswith(
        "Context:\n[1] (Keeper's Guide, page 2, 1 Introduction) 1 Introduction\n\nThis guide"
    ), context
