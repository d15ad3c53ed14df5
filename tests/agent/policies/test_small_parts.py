"""The small policy's pieces: the option pick, the forced start, the bounded edit."""

from types import SimpleNamespace

from agent.backends.base import BackendCapabilities, Generation
from agent.backends.fake import FakeBackend
from agent.config import EngramConfig
from agent.policies.small import (
    body_only,
    choose,
    def_head,
    fenced,
    fit_to_region,
    function_end_stops,
)
from agent.types import ChatMessage

ASK = [ChatMessage(role="user", content="Which? Answer with one letter (A, B, C).")]


def ctx_with(script, temperature: float = 0.0, **caps):
    backend = FakeBackend(script, capabilities=BackendCapabilities(**caps))
    config = EngramConfig.model_validate({"model": {"temperature": temperature}})
    return SimpleNamespace(backend=backend, adapter=None, config=config, capture_layer=None)


def test_the_pick_is_the_option_letter_with_the_highest_logprob():
    top = [[("The", -0.1), (" B", -0.9), ("A", -1.5), ("D", -0.5)]]  # D is not an option
    ctx = ctx_with([Generation(text="The", top_logprobs=top)], logprobs=True)
    pick, _, note = choose(ctx, ASK, 3, seed=0)
    assert pick == 1 and "option B" in note
    ((_, _, options),) = ctx.backend.calls
    assert options.max_new_tokens == 1 and options.top_logprobs == 20


def test_an_exploring_sample_draws_its_pick_from_the_letters_distribution():
    top = [[("A", -0.2), ("B", -1.0), ("C", -2.5)]]
    picks = [
        choose(ctx_with([Generation(text="A", top_logprobs=top)], temperature=0.7,
                        logprobs=True), ASK, 3, seed=seed)[0]
        for seed in range(60)
    ]  # fmt: skip
    # mostly the top option, but not only it; the same seed draws the same pick
    assert picks.count(0) > picks.count(1) > 0 and set(picks) <= {0, 1, 2}
    again = choose(ctx_with([Generation(text="A", top_logprobs=top)], temperature=0.7,
                            logprobs=True), ASK, 3, seed=7)[0]  # fmt: skip
    assert again == picks[7]
    greedy = {choose(ctx_with([Generation(text="A", top_logprobs=top)], logprobs=True), ASK, 3,
                     seed=seed)[0] for seed in range(10)}  # fmt: skip
    assert greedy == {0}


def test_without_logprobs_the_written_letter_is_read():
    ctx = ctx_with(["C. because it subtracts"])
    assert choose(ctx, ASK, 3, seed=0)[0] == 2
    assert ctx.backend.calls[0][2].top_logprobs == 0


def test_no_letter_is_no_pick():
    assert choose(ctx_with(["I am not sure"]), ASK, 3, seed=0)[0] is None
    assert choose(ctx_with(["D"]), ASK, 3, seed=0)[0] is None  # not among the options


def test_forced_start_is_the_signature_and_docstring():
    method = (
        '    @cached\n    def total(self,\n              x):\n        """Sum."""\n        return 1'
    )
    assert (
        def_head(method)
        == '    @cached\n    def total(self,\n              x):\n        """Sum."""\n'
    )
    assert def_head("def f():\n    return 1") == "def f():\n"
    assert def_head("def f(:\n    return 1") == "def f("  # does not parse: up to the name


def test_the_edit_is_cut_where_it_leaves_the_function():
    head = "    def m(self):\n"
    cont = "        x = 1\n\n        return x\n    def other(self):\n        pass"
    assert body_only(head, cont) == "    def m(self):\n        x = 1\n\n        return x"
    assert "\n    def " in function_end_stops(head) and "\ndef " in function_end_stops(head)
    assert "\ndef " in function_end_stops("def f():\n")


def test_without_prefill_the_code_comes_from_the_first_fence():
    assert fenced("Here:\n```python\ndef f():\n    return 2\n```\nDone") == "def f():\n    return 2"
    assert fenced("```python\ndef f():\n    return 2") == "def f():\n    return 2"  # cut off
    assert fenced("no code here") is None


def test_a_fenced_rewrite_is_fitted_to_the_region_it_replaces():
    method = "    @property\n    def total(self) -> int:\n        return self.a - self.b"
    # Written at column 0 with an import above and a test below: shifted, bounded.
    reply = ("import math\n\n@property\ndef total(self) -> int:\n    return self.a + self.b\n\n"
             "def test_total():\n    assert True")  # fmt: skip
    assert fit_to_region(reply, method) == (
        "    @property\n    def total(self) -> int:\n        return self.a + self.b"
    )
    # Already at the right depth: unchanged. A signature over several lines, closed at
    # the def's own indentation, is not mistaken for the end of the function.
    top = "def f(\n    a,\n) -> int:\n    return a"
    assert fit_to_region(top, "def f(\n    a,\n) -> int:\n    return -a") == top
    # Too deep (the model kept a class's indentation for a function): shifted left.
    assert fit_to_region("    def f():\n        return 1", "def f():\n    return 2") == (
        "def f():\n    return 1"
    )
    assert fit_to_region("x = 1", method) is None
    assert fit_to_region(None, method) is None
