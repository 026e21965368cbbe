"""The second evaluation set: real PDFs from Debian's documentation packages.

    .venv/bin/python ops/eval/debian_pdfs.py            # fetch the PDFs, check every question
    .venv/bin/python ops/eval/debian_pdfs.py --write-pages

The documents (`ops/eval/debian/documents.json`) are pinned package versions; `fetch` runs
`apt-get download` once into `ops/eval/debian/build/` (git-ignored) and extracts each PDF
from its package, so nothing large is committed. The questions
(`ops/eval/debian/questions/<layout>.json`) are either answerable, with evidence phrases copied
from the PDF's own text, or unanswerable (`"unanswerable": "near"` when the topic is in the
documents and the asked fact is not, `"off"` when the topic is not there at all).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pymupdf

# The repository root first: run as a script, this file's own folder would come first (and
# `ops` is no installed package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.eval.sets import EvalSet, Question, load_questions

HERE = Path(__file__).resolve().parent / "debian"
DOCUMENTS_FILE = HERE / "documents.json"
QUESTIONS_DIR = HERE / "questions"
BUILD_DIR = HERE / "build"


@dataclass(frozen=True)
class Source:
    id: str
    layout: str
    title: str
    package: str
    version: str
    path: str  # inside the package; a ".gz" is unpacked

    @property
    def filename(self) -> str:
        """What it is uploaded as: its own name, as a user would ("traits_ui_slides.pdf")."""
        return Path(self.path).name.removesuffix(".gz")

    @property
    def cached(self) -> str:
        return f"{self.id}.pdf"

    @property
    def deb(self) -> str:
        return f"{self.package}_{self.version.replace(':', '%3a')}_all.deb"


def load_sources(path: Path = DOCUMENTS_FILE) -> dict[str, Source]:
    return {d["id"]: Source(**d) for d in json.loads(path.read_text())["documents"]}


def fetch(sources: Mapping[str, Source], build: Path = BUILD_DIR) -> dict[str, bytes]:
    """Every document's PDF, downloading its package first when it is not cached."""
    build.mkdir(parents=True, exist_ok=True)
    missing = sorted({s.package + "=" + s.version for s in sources.values() if not _has(s, build)})
    if missing:
        if shutil.which("apt-get") is None:
            raise RuntimeError(f"apt-get is needed to fetch {', '.join(missing)}")
        done = subprocess.run(
            ["apt-get", "download", *missing], cwd=build, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"apt-get download {' '.join(missing)} failed:\n{done.stderr}")
    return {doc_id: _extract(source, build) for doc_id, source in sources.items()}


def _has(source: Source, build: Path) -> bool:
    return (build / source.cached).exists() or (build / source.deb).exists()


def _extract(source: Source, build: Path) -> bytes:
    target = build / source.cached
    if not target.exists():
        unpacked = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(build / source.deb)], capture_output=True
        )
        if unpacked.returncode != 0:
            raise RuntimeError(f"dpkg-deb cannot read {source.deb}: {unpacked.stderr.decode()}")
        with tarfile.open(fileobj=io.BytesIO(unpacked.stdout)) as tar:
            member = tar.extractfile("./" + source.path)
            if member is None:
                raise RuntimeError(f"{source.deb} has no file {source.path}")
            pdf = member.read()
        if source.path.endswith(".gz"):
            pdf = gzip.decompress(pdf)
        target.write_bytes(pdf)
    return target.read_bytes()


def package_set(name: str, here: Path = HERE) -> EvalSet:
    """The set whose documents ``here/documents.json`` names, fetched into ``here/build``, with
    the questions of ``here/questions``."""
    sources = load_sources(here / "documents.json")
    pdfs = fetch(sources, here / "build")
    return EvalSet(name, sources, pdfs, _questions(pdfs, sources, here / "questions"))


def debian_set() -> EvalSet:
    return package_set("debian")


def _questions(
    pdfs: Mapping[str, bytes],
    sources: Mapping[str, Source],
    directory: Path,
    *,
    write_pages: bool = False,
) -> list[Question]:
    layouts = {doc_id: source.layout for doc_id, source in sources.items()}
    return load_questions(pdfs, layouts, directory, write_pages=write_pages)


def main(here: Path = HERE, about: str = __doc__ or "") -> None:
    parser = argparse.ArgumentParser(description=about.split("\n")[0])
    parser.add_argument("--write-pages", action="store_true", help="record the answer pages")
    args = parser.parse_args()
    sources = load_sources(here / "documents.json")
    pdfs = fetch(sources, here / "build")
    for doc_id, pdf in pdfs.items():
        with pymupdf.open(stream=pdf, filetype="pdf") as doc:
            digest = hashlib.sha256(pdf).hexdigest()[:12]
            print(f"{doc_id}: {sources[doc_id].layout}, {doc.page_count} pages, sha256 {digest}…")
    try:
        questions = _questions(pdfs, sources, here / "questions", write_pages=args.write_pages)
    except ValueError as problem:
        sys.exit(str(problem))
    by_layout: dict[str, list[int]] = {}
    for q in questions:
        counts = by_layout.setdefault(q.layout, [0, 0])
        counts[bool(q.unanswerable)] += 1
    for layout, (answerable, unanswerable) in sorted(by_layout.items()):
        print(f"{layout}: {answerable} answerable, {unanswerable} unanswerable")


if __name__ == "__main__":
    main()
