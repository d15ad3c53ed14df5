"""The graph tests' repository (one bug: `add` subtracts) and its task."""

from tests.agent.graph.conftest import buggy_repo, task  # noqa: F401  (fixtures re-exported)
