"""Held-out code likelihood: mean token loss on a fixed corpus no repository trains on.

The corpus is eight modules of the Python 3.11 standard library, chosen because they
are byte-identical in 3.11.2 (Debian 12) and 3.11.7, and recorded here by sha256, so
"the held-out loss" always means the same text. Each file is cut into non-overlapping
windows of `window` tokens (at most `max_windows` per file, from its start); each
window is scored on its own, and the result is the token-weighted mean cross-entropy
(nats/token) over all windows. Deterministic for a model + adapter; no sampling.

Forgetting shows up here first: an adapter that drags general code likelihood down
has overwritten something the base model knew.
"""

from __future__ import annotations

import hashlib
import math
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.types import Model, content_hash

CORPUS: dict[str, str] = {
    "bisect.py": "e5b2ff166f48a06e70ae831d8c9b47283fcd0c254306eee12d3dae9c55e11526",
    "fnmatch.py": "6683da36e47af523f3f41e18ad244d837783e19e98911cc0b7415dea81494ebc",
    "graphlib.py": "7bd338c5a475d1101064603d3baa5507446d3c5e73f741f6d6e77c6204c1eb65",
    "shlex.py": "42ab6060f316e121e374e6621d8c1c98b8db323903c3df289a810c45a8ae46a7",
    "reprlib.py": "264433cc232332db871666b3bb6e4c2cb97b092cb8d5056a45ec2e53daea2b1c",
    "glob.py": "fa579f8a50a66313d34d339f10be0821c9b4fed6207e8ba8e29ed1c5e119f740",
    "sched.py": "edfb309483d7cb05e06ad86d1fdeb819629f71402dc6710a1bec36c7afcaac50",
    "queue.py": "f6c37fc37cd7440979f7d22d40ee818fa3b714c573610c08fa52911d541193f0",
}


class HeldOutCorpusError(RuntimeError):
    user_facing = True


class FileLoss(Model):
    name: str
    sha256: str
    tokens: int
    loss: float


class HeldOutResult(Model):
    mean_loss: float = Field(description="nats per token, token-weighted over all windows")
    perplexity: float
    tokens: int
    corpus_id: str = Field(description="equal ids ⇔ the same files, windows and limits")
    files: list[FileLoss]
    window: int
    max_windows: int
    seconds: float


def _search_dirs() -> list[Path]:
    dirs = [Path(sysconfig.get_paths()["stdlib"]), Path("/usr/lib/python3.11")]
    return list(dict.fromkeys(d for d in dirs if d.is_dir()))


def corpus_texts(dirs: list[Path] | None = None) -> dict[str, str]:
    """The corpus files' text, each verified against its recorded sha256."""
    texts: dict[str, str] = {}
    for name, expected in CORPUS.items():
        for directory in dirs or _search_dirs():
            path = directory / name
            if path.is_file():
                data = path.read_bytes()
                if hashlib.sha256(data).hexdigest() == expected:
                    texts[name] = data.decode("utf-8")
                    break
        else:
            raise HeldOutCorpusError(
                f"no copy of {name} with sha256 {expected[:12]}… in "
                f"{', '.join(map(str, dirs or _search_dirs()))}. The held-out corpus is Python "
                "3.11's standard library; run the evaluation with a Python 3.11 interpreter "
                "(other versions have other files, and losses would not be comparable)"
            )
    return texts


def heldout_loss(
    model: Any,
    tokenizer: Any,
    window: int = 512,
    max_windows: int = 2,
    texts: dict[str, str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> HeldOutResult:
    """Mean token loss of `model` as it is called (base, or with an adapter active)."""
    import torch
    import torch.nn.functional as F

    if window < 2 or max_windows < 1:
        raise ValueError("window must be ≥ 2 and max_windows ≥ 1")
    texts = texts if texts is not None else corpus_texts()
    device = next(model.parameters()).device
    started = time.perf_counter()
    files: list[FileLoss] = []
    total_loss = 0.0
    total_tokens = 0
    was_training = model.training
    model.eval()
    try:
        for index, (name, text) in enumerate(sorted(texts.items())):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            file_loss = 0.0
            file_tokens = 0
            for w in range(max_windows):
                chunk = ids[w * window : (w + 1) * window]
                if len(chunk) < 2:
                    break
                batch = torch.tensor([chunk], device=device)
                with torch.inference_mode():
                    logits = model(input_ids=batch).logits[0, :-1].float()
                losses = F.cross_entropy(logits, batch[0, 1:], reduction="sum")
                file_loss += float(losses)
                file_tokens += len(chunk) - 1
            sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
            files.append(
                FileLoss(name=name, sha256=sha, tokens=file_tokens, loss=file_loss / file_tokens)
            )
            total_loss += file_loss
            total_tokens += file_tokens
            if progress is not None:
                progress(name, index + 1, len(texts))
    finally:
        model.train(was_training)
    mean = total_loss / total_tokens
    return HeldOutResult(
        mean_loss=mean,
        perplexity=math.exp(mean),
        tokens=total_tokens,
        corpus_id=content_hash(
            {"files": {f.name: f.sha256 for f in files}, "window": window, "max": max_windows}
        )[:16],
        files=files,
        window=window,
        max_windows=max_windows,
        seconds=time.perf_counter() - started,
    )
