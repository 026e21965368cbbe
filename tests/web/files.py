"""Uploads as Quart's test client sends them."""

from __future__ import annotations

import io

from quart.datastructures import FileStorage


def pdf_file(data: bytes, filename: str = "a.pdf") -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=filename, content_type="application/pdf")
