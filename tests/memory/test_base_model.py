"""Base-model identity: what an adapter is bound to."""

from __future__ import annotations

import json

from memory.base_model import CACHE, identify, weights_hash

from .conftest import build_tiny_model


def test_a_plain_folder_is_identified_by_its_weights(tiny_model_dir):
    first = identify(tiny_model_dir)
    assert first.hash == weights_hash(tiny_model_dir) and len(first.hash) == 64
    assert (tiny_model_dir / CACHE).is_file()  # later calls skip the re-hash
    assert identify(tiny_model_dir) == first


def test_other_weights_give_another_hash(tiny_model_dir, tmp_path):
    other = tmp_path / "other"
    build_tiny_model(seed=1).save_pretrained(other)
    assert weights_hash(other) != weights_hash(tiny_model_dir)


def test_a_stale_cache_is_not_trusted(tiny_model_dir):
    before = weights_hash(tiny_model_dir)
    build_tiny_model(seed=3).save_pretrained(tiny_model_dir)  # rewrites the weights
    assert weights_hash(tiny_model_dir) != before


def test_a_converted_folder_uses_its_recorded_source_hash(tiny_model_dir):
    manifest = {"model_id": "Qwen/x", "source_sha256": "f" * 64}
    (tiny_model_dir / "engram-model.json").write_text(json.dumps(manifest))
    assert identify(tiny_model_dir).model_id == "Qwen/x"
    assert identify(tiny_model_dir).hash == "f" * 64
