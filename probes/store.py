"""Probes per base model under `ENGRAM_HOME/probes/<model>/`.

```
probes/<model-slug>/
  probe/                    the current probe, replaced atomically as a whole
    probe.json              the card: model id, layer, pooling, decay, thresholds,
                            training data hashes, metrics, format_version
    step_probe.safetensors  + step_probe.json
    prefix.safetensors      + prefix.json
  data/                     the feature dataset (probes.dataset)
```

A probe belongs to a base model (its hidden states), not to a repository: adapters
change the states only a little, and probes are retrained when the base changes. The
card's `model_id` is checked on load, so two ids that map to one folder name never
swap probes. Nothing in a sandbox can reach this directory.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pydantic import ValidationError

from agent import atomic
from agent.types import FORMAT_VERSION
from probes.files import ProbeFormatError
from probes.prefix import PrefixIntegrator
from probes.probe import ProbeCard, TrainedProbe
from probes.step_probe import StepProbe

CARD = "probe.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def model_slug(model_id: str) -> str:
    """A folder name for a model id: `Qwen/Qwen2.5-Coder-0.5B-Instruct` →
    `Qwen--Qwen2.5-Coder-0.5B-Instruct`. Ids that do not map cleanly (local paths,
    odd characters, very long) get a short hash of the full id appended."""
    readable = _UNSAFE.sub("_", model_id.strip("/").replace("/", "--")).strip("._-")
    clean = (
        readable == model_id.replace("/", "--")
        and not model_id.startswith("/")
        and len(readable) <= 80
    )
    if clean and readable:
        return readable
    digest = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:10]
    return f"{readable[-60:].lstrip('._-') or 'model'}-{digest}"


class ProbeStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def for_home(cls, home=None) -> ProbeStore:
        from agent.home import Home

        return cls((home or Home.resolve()).probes)

    def model_dir(self, model_id: str) -> Path:
        return self.root / model_slug(model_id)

    def probe_dir(self, model_id: str) -> Path:
        return self.model_dir(model_id) / "probe"

    def data_dir(self, model_id: str) -> Path:
        return self.model_dir(model_id) / "data"

    def save(self, probe: TrainedProbe) -> Path:
        """Write the probe for its card's model, replacing the previous one atomically."""
        final = self.probe_dir(probe.card.model_id)
        with atomic.building_dir(final) as tmp:
            probe.step.save(tmp)
            probe.prefix.save(tmp)
            (tmp / CARD).write_text(probe.card.model_dump_json(indent=2))
        return final

    def load(self, model_id: str) -> TrainedProbe | None:
        """The probe trained for `model_id`, or None when there is none."""
        directory = self.probe_dir(model_id)
        if not (directory / CARD).is_file():
            return None
        card = self.load_card(directory)
        if card.model_id != model_id:
            raise ProbeFormatError(
                f"{directory} holds a probe for {card.model_id!r}, not {model_id!r}; "
                "retrain with `engram probes train`"
            )
        probe = TrainedProbe(card, StepProbe.load(directory), PrefixIntegrator.load(directory))
        if probe.step.dim != card.hidden_size or probe.prefix.dim != card.hidden_size:
            raise ProbeFormatError(f"{directory}: weights do not match the card's hidden size")
        return probe

    @staticmethod
    def load_card(directory: Path) -> ProbeCard:
        try:
            card = ProbeCard.model_validate_json((directory / CARD).read_text())
        except (OSError, ValidationError) as exc:
            raise ProbeFormatError(
                f"{directory / CARD} cannot be read ({exc}); retrain with `engram probes train`"
            ) from exc
        if card.format_version != FORMAT_VERSION:
            raise ProbeFormatError(
                f"{directory / CARD} has format_version {card.format_version}, this engram reads "
                f"{FORMAT_VERSION}; retrain with `engram probes train`"
            )
        return card

    def cards(self) -> list[ProbeCard]:
        """Cards of every stored probe (unreadable ones skipped)."""
        out = []
        if not self.root.is_dir():
            return out
        for entry in sorted(self.root.iterdir()):
            if (entry / "probe" / CARD).is_file():
                try:
                    out.append(self.load_card(entry / "probe"))
                except ProbeFormatError:
                    continue
        return out
