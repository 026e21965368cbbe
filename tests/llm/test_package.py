from __future__ import annotations

import subprocess
import sys

import llm


def test_imports_point_one_way() -> None:
    """llm/ may use config, core and retrieval, never the tiers that call it."""
    code = (
        "import sys, llm, llm.remote, llm.local\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('web', 'agents', 'storage', 'workflows', 'topics'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names() -> None:
    assert {"ChatModels", "Prompt", "Evidence", "Turn", "Delta", "Finished", "Usage"} <= set(
        llm.__all__
    )
    assert all(hasattr(llm, name) for name in llm.__all__)
