from __future__ import annotations

import pytest

from storage.search import document_name


@pytest.mark.parametrize(
    ("title", "filename", "name"),
    [
        # The file's name is how many users call a document: kept when the title lacks it.
        ("Hypertext marks in LaTeX", "hyperref.pdf", "Hypertext marks in LaTeX (hyperref)"),
        ("Berkeley DB", "bdb_usenix.PDF", "Berkeley DB (bdb_usenix)"),
        (" Annual report\n", "q3-results.pdf", "Annual report (q3-results)"),
        # A title that says the file's words (any case, any order) is the name.
        ("The Debian GNU/Linux FAQ", "debian-faq.en.pdf", "The Debian GNU/Linux FAQ"),
        ("Magna Carta (1215)", "magna-carta.pdf", "Magna Carta (1215)"),
        ("Keeper's Guide", "keepers-guide.pdf", "Keeper's Guide"),
        ("The Federalist No. 10", "federalist-10.pdf", "The Federalist No. 10"),
        # No title: the file name, as it was uploaded.
        (None, "report.pdf", "report.pdf"),
        ("  ", "report.pdf", "report.pdf"),
        ("员工休假制度与常见问题", "leave-policy.pdf", "员工休假制度与常见问题 (leave-policy)"),
    ],
)
def test_a_document_is_named_by_its_title_and_the_file_name_it_lacks(
    title: str | None, filename: str, name: str
) -> None:
    assert document_name(title, filename) == name
