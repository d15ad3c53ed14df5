"""Measure the foundation's timings: cold and warm `make setup`, model load from the
converted folder, `engram --help`, and container start. Prints a Markdown table.

    python scripts/measure_setup.py            # everything (cold set-up takes minutes)
    python scripts/measure_setup.py --no-cold  # skip the cold set-up

"Cold" means: a fresh clone (so a fresh venv), a fresh ENGRAM_HOME (so the model is
downloaded, assembled, verified and converted), pip's cache disabled (so every wheel
is downloaded), and a sandbox image under a tag of its own (so the base image is built
from scratch) — without disturbing the shared image other runs use. The Docker engine
itself is not reinstalled; its apt install is reported separately by `engram setup` logs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def median_of(n: int, fn) -> float:
    return statistics.median(fn() for _ in range(n))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-cold", action="store_true", help="skip the cold set-up")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    env = dict(os.environ)
    work = Path(tempfile.mkdtemp(prefix="engram-measure-"))
    try:
        clone = work / "engram"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        if not args.no_cold:
            cold_env = {**env, "ENGRAM_HOME": str(work / "home"), "PIP_NO_CACHE_DIR": "1",
                        "ENGRAM_SANDBOX__IMAGE": "engram/sandbox-base:measure-cold"}  # fmt: skip
            cold_env.pop("ENGRAM_MODELS", None)
            subprocess.run(
                ["docker", "rmi", "-f", "engram/sandbox-base:measure-cold"], capture_output=True
            )
            rows.append(
                (
                    "cold `make setup` (venv, deps, image, model)",
                    f"{timed(['make', 'setup'], clone, cold_env):.0f} s",
                )
            )
            rows.append(
                (
                    "warm `make setup` (nothing to do)",
                    f"{median_of(3, lambda: timed(['make', 'setup'], clone, cold_env)):.1f} s",
                )
            )
            subprocess.run(
                ["docker", "rmi", "-f", "engram/sandbox-base:measure-cold"], capture_output=True
            )
        else:
            timed(["make", "install"], clone, env)
            rows.append(
                (
                    "warm `make setup` (nothing to do)",
                    f"{median_of(3, lambda: timed(['make', 'setup'], clone, env)):.1f} s",
                )
            )
        engram = str(clone / ".venv/bin/engram")
        rows.append(
            (
                "`engram --help`",
                f"{median_of(10, lambda: timed([engram, '--help'], clone, env)):.2f} s",
            )
        )
        load = (
            "import time;from pathlib import Path;from agent.home import Home;"
            "from agent.models.loader import resolve_model, load_causal_lm;"
            "r=resolve_model('qwen2.5-coder-0.5b-instruct', Home.resolve().models);"
            "t=time.perf_counter();import torch, transformers;"
            "import transformers.models.qwen2.modeling_qwen2;i=time.perf_counter()-t;"
            "t=time.perf_counter();load_causal_lm(r);print(i, time.perf_counter()-t)"
        )
        py = str(clone / ".venv/bin/python")

        imports: list[float] = []

        def load_once() -> float:
            # torch, transformers and the model's modeling code are imported once per
            # process (≈ 2 s of the first load: measured apart, and the `llamacpp` row
            # below needs none of them); the load proper is the tokenizer and the weights.
            out = subprocess.run(
                [py, "-c", load], cwd=clone, env=env, capture_output=True, text=True, check=True
            )
            imported, loaded = out.stdout.strip().splitlines()[-1].split()
            imports.append(float(imported))
            return float(loaded)

        rows.append(
            (
                "model load from the converted folder (tokenizer + weights, bf16)",
                f"{median_of(5, load_once):.2f} s",
            )
        )
        rows.append(
            (
                "importing torch, transformers and its Qwen2 model code (once per process, before the `hf` load)",
                f"{statistics.median(imports):.2f} s",
            )
        )
        gguf_load = (
            "import time;from agent.config import load_config;from agent.home import Home;"
            "from agent.backends.llamacpp import available, LlamaCppBackend;"
            "s=load_config(flags={'model.backend':'llamacpp'}).config.model;"
            "t=time.perf_counter();b=LlamaCppBackend.from_config(s, Home.resolve());"
            "print(time.perf_counter()-t) if available() else print('nan')"
        )

        def gguf_once() -> float:
            out = subprocess.run(
                [py, "-c", gguf_load], cwd=clone, env=env, capture_output=True, text=True,
                check=True,
            )  # fmt: skip
            return float(out.stdout.strip().splitlines()[-1])

        rows.append(
            (
                "model load for generation (`llamacpp`, the default on CPU: GGUF, mmap)",
                f"{median_of(5, gguf_once):.2f} s",
            )
        )
        start = (
            "import time,docker;c=docker.from_env();t=time.perf_counter();"
            "x=c.containers.run('engram/sandbox-base:1',['sleep','60'],detach=True,network_mode='none',"
            "read_only=True,mem_limit='2g',pids_limit=256);print(time.perf_counter()-t);x.remove(force=True)"
        )

        def start_once() -> float:
            out = subprocess.run(
                [py, "-c", start], cwd=clone, env=env, capture_output=True, text=True, check=True
            )
            return float(out.stdout.strip())

        rows.append(
            (
                "sandbox container start (`docker run -d`, limits on)",
                f"{median_of(10, start_once):.2f} s",
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| what | median |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
