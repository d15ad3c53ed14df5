"""Named LoRA adapters on one transformers model, for the `hf` backend.

PEFT injects LoRA layers into the base model in place; this class keeps that state
honest:

- At rest every adapter layer is *disabled*, so a plain forward pass (generation,
  training code, probes) is the base model. `active(name)` enables exactly one adapter
  for the duration of a `with` block and disables adapters again however it ends.
- Loading under a name that exists replaces that adapter.
- Removing the last adapter strips the LoRA layers (`PeftModel.unload`), leaving the
  very same model object as before any adapter was loaded; a failed first load strips
  whatever PEFT injected before it failed.

Not thread-safe on its own: the backend holds its lock around every call.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.backends.base import BackendError


def check_adapter_dir(path: Path) -> None:
    """Raise BackendError unless `path` holds a LoRA adapter in PEFT's layout."""
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise BackendError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
    try:
        peft_type = json.loads(config_file.read_text()).get("peft_type")
    except (OSError, json.JSONDecodeError) as exc:
        raise BackendError(f"{config_file} cannot be read: {exc}") from exc
    if peft_type != "LORA":
        raise BackendError(f"{path}: only LoRA adapters are supported (peft_type {peft_type})")


class LoraAdapters:
    def __init__(self, base: Any):
        self.base = base  # the transformers model; the same object for its whole life
        self.peft: Any = None  # peft.PeftModel while at least one adapter is loaded
        self.paths: dict[str, Path] = {}

    @property
    def model(self) -> Any:
        return self.peft if self.peft is not None else self.base

    def load(self, name: str, path: Path, model_id: str) -> None:
        check_adapter_dir(path)
        if name in self.paths:
            self.remove(name)
        try:
            if self.peft is None:
                from peft import PeftModel

                self.peft = PeftModel.from_pretrained(
                    self.base, str(path), adapter_name=name, is_trainable=False
                )
            else:
                self.peft.load_adapter(str(path), adapter_name=name, is_trainable=False)
        except Exception as exc:
            # A failed load may leave a half-registered adapter behind: remove it.
            if self.peft is None:
                _strip_lora(self.base)
            elif name in self.peft.peft_config:
                self._drop(name)
            raise BackendError(
                f"cannot load adapter {name!r} from {path}: {exc}. Is it a LoRA adapter of "
                f"{model_id}?"
            ) from exc
        self.paths[name] = path
        self._rest()

    def remove(self, name: str) -> None:
        if name not in self.paths:
            raise BackendError(f"adapter {name!r} is not loaded (loaded: {sorted(self.paths)})")
        self.paths.pop(name)
        self._drop(name)

    def clear(self) -> None:
        for name in list(self.paths):
            self.remove(name)

    def _drop(self, name: str) -> None:
        if self.peft is None:
            return
        if not self.paths:
            # Last adapter gone: strip the LoRA layers so the base model is itself again.
            self.peft.unload()
            self.peft = None
            return
        if name in self.peft.active_adapters:
            # Hand the (disabled) active slot to a remaining adapter first, so PEFT has
            # nothing to warn about; adapters stay disabled at rest either way.
            self.peft.set_adapter(next(iter(self.paths)), inference_mode=True)
        self.peft.delete_adapter(name)
        self._rest()

    def _rest(self) -> None:
        if self.peft is not None:
            self.peft.base_model.disable_adapter_layers()

    @contextlib.contextmanager
    def active(self, name: str | None) -> Iterator[None]:
        """`name` enabled inside the block (None: the base model, nothing enabled)."""
        if name is None:
            yield
            return
        if name not in self.paths:
            raise BackendError(
                f"adapter {name!r} is not loaded (loaded: {sorted(self.paths) or 'none'})"
            )
        try:
            self.peft.set_adapter(name, inference_mode=True)
            self.peft.base_model.enable_adapter_layers()
            yield
        finally:
            self._rest()


def _strip_lora(model: Any) -> None:
    """Put the original layers back where PEFT injected LoRA layers into `model`."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, BaseTunerLayer) and "." in name:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, module.get_base_layer())
    # PEFT also left its config registry on the model; a later load would adopt it and
    # carry a phantom adapter along.
    if hasattr(model, "peft_config"):
        del model.peft_config
