"""What every request handler of `engram serve` shares."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.serve import protocol as p

if TYPE_CHECKING:
    from agent.backends.hf import HFBackend


@dataclass
class ServeState:
    backend: HFBackend
    served_name: str
    default_max_tokens: int = 384
    context_tokens: int = 8192
    api_key: str | None = None
    # One generation or adapter change at a time: the model has one set of weights and
    # one active adapter. Waiters are admitted in arrival order.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    created: int = field(default_factory=p.now)

    def adapter_for(self, model: str) -> str | None:
        """The adapter a request's `model` names (None: the base model)."""
        if model in (self.served_name, self.backend.model_id):
            return None
        if model in self.backend.adapters:
            return model
        known = [self.served_name, *sorted(self.backend.adapters)]
        raise p.ApiError(
            404,
            f"The model `{model}` does not exist. Served: {', '.join(known)}.",
            param="model",
            code="model_not_found",
        )
