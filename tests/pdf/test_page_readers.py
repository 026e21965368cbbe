"""A big document's page ranges read side by side by a pool of processes (parse_pdf's
``processes``): the same result as reading it in one process, a damaged page rejected the same
way, and a reader that dies mid-range breaks that parse without leaving anything half-read."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import psutil
import pytest

import pdfgen
from core.errors import DocumentRejected
from pdf import extract, page_reader_pool, parse_pdf

MAX_PAGES = 10_000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def readers() -> Iterator[ProcessPoolExecutor]:
    pool = page_reader_pool(2)
    yield pool
    pool.shutdown()


def test_a_big_document_read_in_ranges_parses_exactly_as_in_one_process(readers):
    # Three full ranges and a short one: headings and segments across every range boundary.
    data = pdfgen.big_pdf(3 * extract.RANGE_PAGES + 17, seed=3)
    in_ranges = parse_pdf(data, max_pages=MAX_PAGES, processes=readers)
    assert in_ranges == parse_pdf(data, max_pages=MAX_PAGES)
    assert [p.number for p in in_ranges.pages] == list(range(1, 3 * extract.RANGE_PAGES + 18))
    # The processes keep the file open between ranges; the next document is another file.
    other = pdfgen.big_pdf(extract.RANGE_PAGES + 1, seed=4)
    assert parse_pdf(other, max_pages=MAX_PAGES, processes=readers) == parse_pdf(
        other, max_pages=MAX_PAGES
    )


def test_a_document_of_one_range_is_read_here(readers, monkeypatch: pytest.MonkeyPatch):
    def no_ranges(*args: object) -> None:
        raise AssertionError("a small document went to the pool")

    monkeypatch.setattr(extract, "_read_in_ranges", no_ranges)
    data = pdfgen.sample_pdf(3, seed=1)
    assert parse_pdf(data, max_pages=MAX_PAGES, processes=readers).page_count == 3


def test_a_damaged_page_in_a_range_is_rejected_as_in_one_process(readers):
    whole = pdfgen.big_pdf(2 * extract.RANGE_PAGES + 50, seed=5)
    cut = whole[: int(len(whole) * 0.8)]  # opens (repaired), later pages lack their data
    with pytest.raises(DocumentRejected) as here:
        parse_pdf(cut, max_pages=MAX_PAGES)
    with pytest.raises(DocumentRejected) as in_ranges:
        parse_pdf(cut, max_pages=MAX_PAGES, processes=readers)
    assert (in_ranges.value.code, in_ranges.value.message) == (
        here.value.code,
        here.value.message,
    )
    assert in_ranges.value.code == "corrupt"


def test_a_reader_killed_mid_range_breaks_the_parse_and_a_new_pool_reads_it_all():
    data = pdfgen.big_pdf(12 * extract.RANGE_PAGES, seed=6)
    pool = page_reader_pool(2)
    killed: list[int] = []
    watcher = threading.Thread(target=_kill_a_reader_once_it_reads, args=(killed,))
    watcher.start()
    try:
        with pytest.raises(BrokenProcessPool):
            parse_pdf(data, max_pages=MAX_PAGES, processes=pool)
    finally:
        watcher.join()
        pool.shutdown()
    assert killed, "no reader was seen reading"
    renewed = page_reader_pool(2)
    try:
        assert parse_pdf(data, max_pages=MAX_PAGES, processes=renewed) == parse_pdf(
            data, max_pages=MAX_PAGES
        )
    finally:
        renewed.shutdown()


def _kill_a_reader_once_it_reads(killed: list[int], timeout_s: float = 30.0) -> None:
    """SIGKILL the first pool process seen with the document's temporary copy open."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in psutil.Process().children():
            try:
                files = [Path(f.path).name for f in child.open_files()]
            except psutil.NoSuchProcess:
                continue
            if any(name.startswith("pdfchat-") and name.endswith(".pdf") for name in files):
                child.kill()
                killed.append(child.pid)
                return
        time.sleep(0.005)


def test_pymupdfs_unused_layout_model_is_never_loaded():
    # onnxruntime and its model would cost every worker, reader and web process ~125 MB.
    code = (
        "import sys, pdf, pymupdf; names = ('onnxruntime', 'pymupdf4llm', 'pymupdf.layout');"
        " print([n for n in names if sys.modules.get(n) is not None])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.strip() == "[]"


def test_readers_exit_when_their_worker_is_killed():
    code = (
        "import os, sys, time; from pdf import page_reader_pool; pool = page_reader_pool(2);"
        " [f.result() for f in [pool.submit(os.getpid) for _ in range(4)]];"
        " print(os.getpid(), flush=True); time.sleep(600)"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=REPO) as worker:
        try:
            assert worker.stdout is not None
            pid = int(worker.stdout.readline())
            readers = psutil.Process(pid).children()
            assert len(readers) >= 2  # the readers (and multiprocessing's resource tracker)
        finally:
            worker.kill()  # SIGKILL: it cannot stop its readers itself
    _, alive = psutil.wait_procs(readers, timeout=15)
    assert not alive, f"orphaned readers: {[p.pid for p in alive]}"
