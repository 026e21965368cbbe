import pytest


@pytest.fixture(autouse=True)
def _running_stack(stack):
    """Every test here talks to the session's real stack."""
    return stack
