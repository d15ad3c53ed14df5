"""The repo evaluation: asking, held-out checks, adapter versions, next-action loss."""

from __future__ import annotations

import pytest

from agent.backends.fake import FakeBackend
from agent.config import EngramConfig
from agent.home import Home
from agent.types import ChatMessage, SelfEdit, SelfEditKind
from memory.base import AdapterMismatch
from memory.qa import knowledge_system_prompt
from memory.repo_eval import (
    ask_questions,
    evaluate_repo,
    exclude_held_out,
    held_out_questions,
    leaked_questions,
    next_action_loss,
)
from memory.repo_questions import RepoQuestion
from tests.conftest import make_git_repo
from tests.memory.conftest import chat, make_manifest, write_adapter_dir

Q_PATH = RepoQuestion(id="q1", kind="defined_in", question="Which file defines the class `Money`?",
                      answer="src/ledger/money.py", accept=["src/ledger/money.py"])  # fmt: skip
Q_CLASS = RepoQuestion(id="q2", kind="method_of", question="Which class has the method `split`?",
                       answer="Money", accept=["Money"])  # fmt: skip


def _edit(text: str) -> SelfEdit:
    return SelfEdit(id=text[:8], repo_id="r", kind=SelfEditKind.QA,
                    messages=[ChatMessage(role="user", content=text),
                              ChatMessage(role="assistant", content="x")])  # fmt: skip


def test_leaks_are_found_in_any_form():
    edits = [
        _edit("which file defines the class Money?"),  # markup and case do not hide it
        _edit("Where does `Money` live?"),
    ]
    assert leaked_questions(edits[0], [Q_PATH, Q_CLASS]) == ["q1"]
    kept, dropped = exclude_held_out(edits, [Q_PATH, Q_CLASS])
    assert kept == [edits[1]] and dropped == [(edits[0], ["q1"])]


def test_ask_questions_scores_and_frames_closed_book():
    lm = FakeBackend(["It is in `src/ledger/money.py`.", "Journal"])
    result = ask_questions(lm, [Q_PATH, Q_CLASS], "ledger-0123456789ab", notes="NOTES HERE")
    assert (result.correct, result.questions, result.mean_score) == (1, 2, 0.5)
    assert result.details["by_kind"]["defined_in"] == {"correct": 1, "questions": 1}
    messages, adapter, options = lm.calls[0]
    assert messages[0].content.startswith(knowledge_system_prompt("ledger-0123456789ab"))
    assert "NOTES HERE" in messages[0].content
    assert messages[1].content.endswith("Answer with the file path only.")
    assert adapter is None and options.temperature == 0 and options.max_new_tokens <= 64


@pytest.fixture
def small_repo(tmp_path):
    return make_git_repo(tmp_path / "shop", {
        "shop/__init__.py": "",
        "shop/basket.py": "class Basket:\n    def total(self, tax: float) -> float:\n"
                          "        return 0.0\n\n\ndef empty_basket(owner: str) -> Basket:\n"
                          "    return Basket()\n",
        "tests/test_basket.py": "from shop.basket import Basket\n\ndef test_total():\n"
                                "    assert Basket().total(0.1) == 0.0\n",
    })  # fmt: skip


def test_evaluate_repo_base_with_a_given_backend(small_repo, tmp_path):
    home = Home(tmp_path / "home")
    questions = held_out_questions(small_repo, home, "shop-0123456789ab")
    assert {q.kind for q in questions} >= {"defined_in", "parameters", "tested_by"}
    answers = {q.question: q.answer for q in questions}

    def oracle(messages, options):
        question = messages[-1].content.split("?")[0] + "?"
        return answers[question]

    lm = FakeBackend([oracle] * len(questions))
    result = evaluate_repo(small_repo, home, EngramConfig(), repo_id="shop-0123456789ab",
                           version=None, lm=lm)  # fmt: skip
    assert result.correct == result.questions == len(questions)
    assert all(adapter is None for _, adapter, _ in lm.calls)


@pytest.mark.model
def test_evaluate_repo_loads_the_version_for_this_base(small_repo, tmp_path, embedded_model_dir):
    from memory.adapter_store import FileAdapterStore
    from memory.repo_eval import base_model_hash

    home = Home(tmp_path / "home")
    config = EngramConfig()
    store = FileAdapterStore(home.adapters)
    good = make_manifest("shop-0123456789ab").model_copy(
        update={"base_model_hash": base_model_hash(config, home)}
    )
    store.propose("shop-0123456789ab", write_adapter_dir(tmp_path / "a"), good)
    lm = FakeBackend(["src/shop/basket.py"])
    result = evaluate_repo(small_repo, home, config, repo_id="shop-0123456789ab", version=1,
                           lm=lm, questions=[Q_PATH])  # fmt: skip
    assert lm.calls[0][1] == "engram-repo-eval-v1"  # generated with the adapter on
    assert lm.adapters == {} and result.details["version"] == 1  # and unloaded after
    store.propose("shop-0123456789ab", write_adapter_dir(tmp_path / "b"),
                  make_manifest("shop-0123456789ab"))  # another base model's hash  # fmt: skip
    with pytest.raises(AdapterMismatch):
        evaluate_repo(small_repo, home, config, repo_id="shop-0123456789ab", version=2,
                      lm=FakeBackend([]), questions=[Q_PATH])  # fmt: skip


def test_next_action_loss_base_and_adapter(tiny_model, tiny_tokenizer, tmp_path):
    import torch

    from memory.encoding import IGNORE, encode_chat
    from memory.peft_lm import PeftLM
    from memory.trainer import TrainerConfig, train_lora

    examples = [chat(("user", "open money"), ("assistant", "view src/money.py")),
                chat(("user", "run tests"), ("assistant", "pytest -q tests"))]  # fmt: skip
    lm = PeftLM(tiny_model, tiny_tokenizer, "tiny")
    base = next_action_loss(lm, None, examples)
    # By hand: token-weighted CE over the assistant tokens.
    total = count = 0.0
    for messages in examples:
        enc = encode_chat(tiny_tokenizer, messages, 512)
        with torch.no_grad():
            logits = tiny_model(input_ids=torch.tensor([enc.input_ids])).logits[0, :-1]
        labels = torch.tensor(enc.labels[1:])
        mask = labels != IGNORE
        total += float(
            torch.nn.functional.cross_entropy(logits[mask], labels[mask], reduction="sum")
        )
        count += int(mask.sum())
    assert base == pytest.approx(total / count, rel=1e-4)
    result = train_lora(lm.base, tiny_tokenizer, examples,
               TrainerConfig(learning_rate=3e-3, epochs=8, lora_rank=4, lora_alpha=8,
                             loss="ce"), tmp_path / "adapter")  # fmt: skip
    lm.base = result.model.unload()
    trained = next_action_loss(lm, tmp_path / "adapter", examples)
    assert trained < base - 0.1
    assert lm.adapters == {}  # the private adapter is gone again
    assert next_action_loss(lm, None, examples) == pytest.approx(base, rel=1e-4)
