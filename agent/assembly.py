"""Choose a run's parts from config: backend, sandbox, tools, verifier, prompt, monitor,
adapter. The CLI, the bench runner and the bot all build runs through here, so a
setting means the same thing everywhere.

Heavy parts load lazily; `make_backend` is the slow one (model load) and callers that
run many tasks build it once and pass it in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.backends.base import LLMBackend
from agent.config import EngramConfig
from agent.graph.context import Event, EventSink
from agent.home import Home
from agent.monitor import Monitor
from agent.policies.base import Policy
from agent.run import Handles
from agent.types import Task
from tools.examples import ToolExamples


@dataclass(frozen=True)
class Choice:
    """What was chosen and why, for the run's opening lines."""

    what: str
    value: str
    why: str


def make_backend(config: EngramConfig, home: Home) -> LLMBackend:
    from agent.backends.factory import open_backend

    return open_backend(config.model, home)


# Models under this many parameters get the small-model policy under `policy = auto`.
SMALL_MODEL_PARAMS = 3e9
_PARAMS = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])")


def model_parameters(model_id: str) -> float | None:
    """Parameters as the model's name states them (`…-0.5B-…` → 5e8); None if unstated."""
    match = _PARAMS.search(model_id.rsplit("/", 1)[-1])
    return float(match.group(1)) * 1e9 if match else None


def make_policy(config: EngramConfig, backend: LLMBackend) -> Policy:
    """`agent.policy`; `auto` picks the small-model policy for models under ~3B
    parameters (they loop and misformat in free form), free form otherwise or when the
    size is unknown (a remote server's model)."""
    from agent.policies.freeform import FreeformPolicy
    from agent.policies.small import SmallPolicy

    choice = config.agent.policy
    if choice == "auto":
        params = model_parameters(backend.model_id)
        choice = "small" if params is not None and params < SMALL_MODEL_PARAMS else "freeform"
    return SmallPolicy() if choice == "small" else FreeformPolicy()


def use_native_tools(config: EngramConfig, backend: LLMBackend) -> bool:
    fmt = config.agent.action_format
    if fmt != "auto":
        return fmt == "native"
    # Small local models rarely call tools on their own (ENVIRONMENT.md): the text
    # protocol is the default; a remote server is assumed to host a capable model.
    return backend.name == "openai" and backend.capabilities.native_tools


def repo_map_text(workspace_path: Path, repo_id: str, task: Task, budget: int,
                  count: Callable[[str], int] | None = None) -> str:  # fmt: skip
    from tools.focus import focus_from
    from tools.index import SymbolIndex
    from tools.repomap import RepoMap, estimate_tokens

    index = SymbolIndex.for_repo(workspace_path, repo_id=repo_id)
    focus = focus_from(index, [task.problem_statement, *task.fail_to_pass])
    return RepoMap(index).render(focus, budget, count_tokens=count or estimate_tokens).text


def tool_examples(workspace_path: Path, repo_id: str) -> ToolExamples | None:
    from tools.examples import repo_examples
    from tools.index import SymbolIndex

    return repo_examples(SymbolIndex.for_repo(workspace_path, repo_id=repo_id))


def build_handles(
    config: EngramConfig,
    home: Home,
    task: Task,
    repo_id: str,
    backend: LLMBackend,
    events: EventSink | None = None,
    monitor: Monitor | None = None,
    adapter: tuple[str, int] | None = None,
    before_node: Callable[[str], None] | None = None,
) -> Handles:
    """Everything a Runner needs for `task`. `adapter` is (name loaded in the backend, version)."""
    from agent.prompting import system_prompt
    from agent.verify import TestVerifier
    from sandboxes.factory import open_sandbox
    from tools.base import ToolContext, ToolLimits
    from tools.registry import Toolbox

    native = use_native_tools(config, backend)
    sink = events or (lambda event: None)
    capture_layer = None
    if monitor is None:
        from probes.monitor import open_probing

        # The probe trained for this model (a teacher wraps backends without hidden
        # states), or AcceptAll with the reason; the run says which.
        probing = open_probing(backend, config, home)
        backend, monitor, capture_layer = probing.backend, probing.monitor, probing.capture_layer
        sink(Event("note", text=f"probes: {probing.note}"))
    if config.agent.constrained and not native and not backend.capabilities.constrained:
        # Said once per run, not silently ignored: the user asked for well-formed actions.
        sink(Event("note", text=f"agent.constrained is on, but the {backend.name} backend "
                   "cannot constrain decoding: actions are parsed as written (the llamacpp "
                   "backend can constrain them)"))  # fmt: skip
    # No single command may outlast the run's own wall-time budget.
    command_cap = min(config.sandbox.command_timeout_s, config.agent.max_wall_s)
    limits = ToolLimits(output_chars=config.agent.observation_chars, bash_timeout_s=command_cap,
                        max_timeout_s=command_cap, tests_timeout_s=command_cap)  # fmt: skip

    def make_tools(sandbox, workspace):
        ctx = ToolContext(
            sandbox=sandbox, limits=limits, action_format="native" if native else "text",
            tree_changed=lambda: bool(workspace.diff().strip()), test_command=task.test_command,
        )  # fmt: skip
        # The text protocol shows examples; they name this repository's files, not the
        # bundled sample project's (native tool schemas carry none).
        return Toolbox(ctx, examples=None if native else tool_examples(workspace.path, repo_id))

    def prompt(tools, workspace) -> str:
        repo_map = None
        if config.agent.repo_map_tokens > 0:
            repo_map = repo_map_text(workspace.path, repo_id, task, config.agent.repo_map_tokens)
        return system_prompt(tools.protocol_text(), repo_map=repo_map)

    repo_notes = None
    if config.memory.notes_in_context:
        from memory.notes_store import notes_for_prompt

        repo_notes = notes_for_prompt(home, repo_id)
        sink(Event("note", text=f"repo notes in context: {len(repo_notes)} characters"
                   if repo_notes else "repo notes in context: none kept for this repo yet"))  # fmt: skip
    return Handles(
        backend=backend,
        # The repository's own image (its dependencies installed) where it has any.
        make_sandbox=lambda workspace: open_sandbox(
            workspace,
            config.sandbox,
            images_dir=home.images,
            report=lambda text: sink(Event("note", text=text)),
        ),
        make_tools=make_tools,
        make_verifier=lambda sandbox, workspace: TestVerifier(sandbox),
        system_prompt=prompt,
        monitor=monitor,
        events=sink,
        adapter=adapter[0] if adapter else None,
        adapter_version=adapter[1] if adapter else None,
        native_tools=native,
        capture_layer=capture_layer,
        policy=make_policy(config, backend),
        before_node=before_node,
        repo_notes=repo_notes,
    )
