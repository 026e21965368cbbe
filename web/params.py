"""Reading request parameters: one JSON body model, bounded integer query arguments, ids."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from quart import request

from core.errors import InvalidInput, NotFound

M = TypeVar("M", bound=BaseModel)


async def json_body(model: type[M], *, hints: Mapping[str, str] | None = None) -> M:
    """The request's JSON object as ``model``; a 400 naming the first bad field otherwise, in
    the words of ``hints[field]`` when given (pydantic would quote a regular expression)."""
    payload = await request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidInput("send a JSON object with Content-Type: application/json")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        raise InvalidInput((hints or {}).get(where, f"{where}: {first['msg']}")) from None


def int_arg(name: str, *, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}")
    return value


def uuid_or(raw: str, missing: NotFound) -> uuid.UUID:
    """``raw`` as a UUID; a string that is not one names nothing, so ``missing`` is raised."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise missing from None
