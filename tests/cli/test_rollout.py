"""`pdfchat rollout`'s own checks of its arguments: refused before it touches anything, with
what is wrong (the plan's checks on the database are tests/workflows/test_rollouts.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.main import main


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["--variant", "{not json"], "--variant must be JSON"),
        (["--variant", '{"evidence_k": 3}', "--steps", "5,half,100"], "--steps numbers"),
        (["--variant", '{"evidence_k": 3}', "--min-requests", "many"], "not a valid integer"),
        ([], "Missing option '--variant'"),
    ],
)
def test_bad_arguments_are_refused_with_what_is_wrong(arguments, words):
    result = CliRunner().invoke(
        main, ["rollout", "start", "r1", *arguments], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2, result.output
    assert words in result.output
