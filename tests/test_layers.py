"""Imports point one way (docs/architecture.md, "Folders and imports"): a new edge between the
product's folders fails here, so it is a decision, not an accident."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# folder → the folders it may import; everything else is forbidden.
ALLOWED = {
    "config": set(),
    "topics": set(),
    "pdfgen": set(),
    "core": {"config", "topics"},
    "pdf": {"core"},
    "storage": {"config", "core"},
    "providers": {"config", "core"},
    "retrieval": {"config", "core", "providers"},
    "llm": {"config", "core", "providers", "retrieval"},
    "workflows": {"config", "core", "llm", "pdf", "retrieval", "storage", "topics"},
    "agents": {"config", "core", "llm", "pdf", "retrieval", "storage", "topics", "workflows"},
    "web": {"config", "core", "llm", "pdf", "retrieval", "storage", "topics", "workflows"},
    # Operator commands (`pdfchat analytics`) run the same workflows as the API would.
    "cli": {"config", "core", "storage", "workflows"},
}


def _imports(folder: str) -> dict[str, set[str]]:
    """Each product folder ``folder`` imports, with the files that do."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ALLOWED and top != folder:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_folder_imports_only_what_it_may():
    wrong = {
        f"{folder} → {target}": sorted(files)
        for folder, allowed in ALLOWED.items()
        for target, files in _imports(folder).items()
        if target not in allowed
    }
    assert not wrong, wrong


def test_the_table_covers_every_product_folder():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "ops"}
    assert packages == set(ALLOWED)
