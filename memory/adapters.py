"""Loading a repository's current adapter into a backend — and never another repo's.

`load_current_adapter(backend, home, repo_id)` asks the store for the repo's current
version through `for_loading`, which refuses a version whose manifest names another
repository (a folder copied between repos) or another base model than the backend's
(`backend.model_sha256`). The adapter is loaded under the name `<repo-id>-v<N>`, so two
repos' adapters can sit in one backend side by side and a run selects its own by name.

Returns None where the repo has no current version (never consolidated, or rolled back
to the base model) or the backend cannot load adapters.
"""

from __future__ import annotations

from agent.backends.base import LLMBackend
from agent.home import Home
from memory.adapter_store import FileAdapterStore
from memory.base import AdapterStoreError


def adapter_name(repo_id: str, version: int) -> str:
    return f"{repo_id}-v{version}"


def load_current_adapter(backend: LLMBackend, home: Home, repo_id: str) -> tuple[str, int] | None:
    """(name loaded in the backend, version) or None (see module doc)."""
    if not backend.capabilities.adapters:
        return None
    store = FileAdapterStore(home.adapters)
    if store.current(repo_id) is None:
        return None
    base_hash = getattr(backend, "model_sha256", None)
    if not base_hash:
        raise AdapterStoreError(
            f"the {backend.name} backend does not say which base model it runs, so {repo_id}'s "
            "adapter cannot be checked against it; run with --no-adapter, or use the hf or "
            "llamacpp backend"
        )
    handle = store.for_loading(repo_id, base_hash)
    if handle is None:
        return None
    name = adapter_name(repo_id, handle.manifest.version)
    backend.load_adapter(name, handle.path)
    return name, handle.manifest.version
