"""`agent.policy`: auto picks the small-model policy for models under ~3B parameters."""

import pytest

from agent.assembly import make_policy, model_parameters
from agent.backends.fake import FakeBackend
from agent.config import load_config


@pytest.mark.parametrize(("model_id", "params"), [
    ("Qwen/Qwen2.5-Coder-0.5B-Instruct", 0.5e9), ("qwen2.5-coder-1.5b-instruct", 1.5e9),
    ("/root/.engram/models/qwen2.5-coder-0.5b-instruct", 0.5e9), ("meta/Llama-3-8B", 8e9),
    ("gpt-4o", None), ("fake-model", None), ("model-v2.5", None),
])  # fmt: skip
def test_parameters_are_read_from_the_model_name(model_id, params):
    assert model_parameters(model_id) == params


@pytest.mark.parametrize(("setting", "model_id", "expected"), [
    ("auto", "Qwen/Qwen2.5-Coder-0.5B-Instruct", "small"),
    ("auto", "Qwen/Qwen2.5-Coder-1.5B-Instruct", "small"),
    ("auto", "Qwen/Qwen2.5-Coder-7B-Instruct", "freeform"),
    ("auto", "served-model", "freeform"),
    ("freeform", "Qwen/Qwen2.5-Coder-0.5B-Instruct", "freeform"),
    ("small", "served-model", "small"),
])  # fmt: skip
def test_policy_setting(setting, model_id, expected):
    config = load_config(flags={"agent.policy": setting}).config
    assert make_policy(config, FakeBackend([], model_id=model_id)).name == expected
