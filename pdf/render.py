"""Render one page of a PDF to a PNG image, for the web page's page viewer.

Synchronous and CPU-bound: run it in a thread. It shares the pdf package's MuPDF lock, because
PyMuPDF must never be used by two threads at once (see ``pdf.extract``).
"""

from __future__ import annotations

import pymupdf

from pdf.extract import _MUPDF_LOCK

__all__ = ["MAX_PIXELS", "render_page"]

# A very tall page (a receipt, a poster) rendered at full width would make a huge image;
# beyond this many pixels the width is reduced to fit.
MAX_PIXELS = 2000 * 3000


def render_page(data: bytes, page_number: int, width: int) -> bytes:
    """Page ``page_number`` (1-based) of the PDF ``data`` as a PNG ``width`` pixels wide
    (less if the page is so tall the image would exceed :data:`MAX_PIXELS`).

    Raises ValueError for a page number out of range or a width below 1.
    """
    if width < 1:
        raise ValueError("width must be at least 1 pixel")
    with _MUPDF_LOCK:
        try:
            with pymupdf.open(stream=data, filetype="pdf") as doc:
                if not 1 <= page_number <= doc.page_count:
                    raise ValueError(f"page {page_number} is not in 1..{doc.page_count}")
                page = doc.load_page(page_number - 1)
                pixmap = page.get_pixmap(matrix=_scale(page.rect, width), alpha=False)
                png: bytes = pixmap.tobytes("png")
                return png
        finally:
            # PyMuPDF keeps every MuPDF warning in a process-wide list that only grows.
            pymupdf.TOOLS.reset_mupdf_warnings()


def _scale(rect: pymupdf.Rect, width: int) -> pymupdf.Matrix:
    zoom = width / rect.width
    area = rect.width * rect.height * zoom * zoom
    if area > MAX_PIXELS:
        zoom *= (MAX_PIXELS / area) ** 0.5
    return pymupdf.Matrix(zoom, zoom)
