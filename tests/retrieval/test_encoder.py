"""The re-ranker's sentence encoder: the real model, as `make install` unpacks it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from config import Settings
from core.errors import InvalidInput
from core.processes import Background
from retrieval.encoder import ENCODER_DIM, Encoder, EncoderMissing, encode_passages, load_encoder

ENCODER = load_encoder(Settings())


def test_the_encoder_is_installed():
    assert ENCODER is not None, "make install unpacks it into ops/models/build/"


def test_texts_become_unit_rows_in_order():
    assert ENCODER is not None
    texts = ["Bicycles go in the shed.", "", "The canteen opens at noon.", "   "]
    rows = ENCODER.encode(texts)
    assert rows.shape == (4, ENCODER_DIM) and rows.dtype == np.float32
    assert np.linalg.norm(rows[[0, 2]], axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert not rows[1].any() and not rows[3].any()  # blank: nothing to read, zero
    # Batched by length or alone, a text reads the same.
    assert (ENCODER.encode([texts[2]])[0] == rows[2]).all()
    assert ENCODER.encode([]).shape == (0, ENCODER_DIM)


async def test_passages_encoded_in_the_background_process_are_the_same():
    assert ENCODER is not None
    texts = ["Bicycles go in the shed.", "", "The canteen opens at noon."]
    background = Background()
    try:
        elsewhere = await background.run(encode_passages, ENCODER.directory, texts)
    finally:
        background.shutdown()
    assert (elsewhere == ENCODER.encode(texts)).all()
    # In this process, the encoder already loaded.
    assert (encode_passages(ENCODER.directory, texts) == ENCODER.encode(texts)).all()


def test_a_paraphrase_is_closer_than_a_passage_that_shares_the_words():
    """What wordllama's averaged word vectors miss: the meaning of the whole sentence."""
    assert ENCODER is not None
    question, answer, echo = ENCODER.encode(
        [
            "How do I stop apt from upgrading a package?",
            "Put the package on hold with apt-mark hold, and it keeps its version.",
            "Upgrading a package with apt downloads the new version first.",
        ]
    )
    assert question @ answer > question @ echo


def test_long_texts_are_read_up_to_the_models_length():
    assert ENCODER is not None
    long = "The shed behind the canteen holds bicycles. " * 200
    assert np.isfinite(ENCODER.encode([long])).all()


@pytest.mark.parametrize("texts", ["one string", ["fine", 3], [None]])
def test_bad_input_is_refused(texts):
    assert ENCODER is not None
    with pytest.raises(InvalidInput, match="sequence of strings"):
        ENCODER.encode(texts)


def test_missing_files_are_named(tmp_path: Path):
    with pytest.raises(EncoderMissing, match=r"all-minilm-l6-v2-q\.onnx.*make install"):
        Encoder(tmp_path)


def test_load_encoder_is_one_per_process_and_none_when_off_or_missing(tmp_path, caplog):
    assert load_encoder(Settings()) is ENCODER
    assert load_encoder(Settings(rerank_encoder=False)) is None
    assert load_encoder(Settings(rerank_provider="cohere", cohere_api_key="k")) is None
    with caplog.at_level(logging.WARNING, logger="pdfchat.retrieval.encoder"):
        assert load_encoder(Settings(encoder_dir=tmp_path)) is None
        assert load_encoder(Settings(encoder_dir=tmp_path)) is None
    warnings = [r for r in caplog.records if "ranking without it" in r.getMessage()]
    assert len(warnings) == 1  # said once, not on every search
