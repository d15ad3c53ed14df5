"""llama.cpp's own Python tools (the LoRA converter), taken from llama-cpp-python's sdist.

llama-cpp-python vendors llama.cpp's source in its sdist, including
`convert_lora_to_gguf.py` and what it imports (`conversion/`, `gguf-py/`). The wheel
built from that sdist keeps none of it, so engram downloads the sdist of the *installed*
version once (`pip download --no-binary :all: --no-deps`; pip's HTTP cache serves a
repeat) and extracts those files. Nothing of llama.cpp is committed to engram, and the
converter always matches the library that loads its output.

Where the tools live, first match wins:

1. `$ENGRAM_LLAMACPP_TOOLS` — a llama.cpp checkout (or extracted sdist) you provide;
2. `<venv>/share/engram/llama.cpp-<version>/` — next to the installed library, filled
   by `make setup-llamacpp` (or on first use);
3. `$ENGRAM_HOME/llama.cpp/<version>/` — where the environment is not writable.

Not guaranteed: that a llama-cpp-python version without an sdist on the index can be
served; then point `ENGRAM_LLAMACPP_TOOLS` at a llama.cpp checkout of that version.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from agent import atomic
from agent.backends.base import BackendError

DISTRIBUTION = "llama-cpp-python"
# What convert_lora_to_gguf.py imports from its own tree.
MEMBERS = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion", "gguf-py", "LICENSE")
SCRIPT = "convert_lora_to_gguf.py"
STAMP = ".engram-complete"

Report = Callable[[str], None]


def installed_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def _require_version() -> str:
    version = installed_version()
    if version is None:
        raise BackendError(
            "llama-cpp-python is not installed, so there is no llama.cpp to convert adapters "
            "for. Install it with `make setup-llamacpp` (builds from source, ~5 minutes)."
        )
    return version


def candidates(version: str, home_root: Path | None = None) -> list[Path]:
    """Where the tools of `version` may be, in the order they are looked for."""
    from agent.home import engram_home

    found = []
    explicit = os.environ.get("ENGRAM_LLAMACPP_TOOLS")
    if explicit:
        found.append(Path(explicit).expanduser())
    found.append(Path(sys.prefix) / "share" / "engram" / f"llama.cpp-{version}")
    found.append((home_root or engram_home()) / "llama.cpp" / version)
    return found


def _complete(folder: Path) -> bool:
    if (folder / STAMP).is_file():
        return True
    # A user-provided checkout carries no stamp: the script and its imports suffice.
    return all((folder / m).exists() for m in MEMBERS if m != "LICENSE")


def find_tools(home_root: Path | None = None) -> Path | None:
    """The folder holding convert_lora_to_gguf.py for the installed version, or None."""
    version = installed_version()
    if version is None:
        return None
    for folder in candidates(version, home_root):
        if _complete(folder):
            return folder
    return None


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


def _extract(sdist: Path, target: Path) -> None:
    with tarfile.open(sdist) as tar, atomic.building_dir(target) as tmp:
        root = None
        picked = []
        for member in tar.getmembers():
            parts = Path(member.name).parts
            # <pkg>-<ver>/vendor/llama.cpp/<member>/…
            if len(parts) < 4 or parts[1:3] != ("vendor", "llama.cpp") or parts[3] not in MEMBERS:
                continue
            root = Path(*parts[:3])
            picked.append(member)
        if root is None or not any(Path(m.name).parts[3] == SCRIPT for m in picked):
            raise BackendError(f"{sdist.name} holds no vendor/llama.cpp/{SCRIPT}")
        for member in picked:
            member.name = str(Path(member.name).relative_to(root))
        tar.extractall(tmp, members=picked, filter="data")
        (tmp / STAMP).write_text(sdist.name + "\n")


def ensure_tools(home_root: Path | None = None, report: Report = print) -> Path:
    """The tools folder, downloading and extracting the sdist first if needed (~75 MB
    download once; a few seconds from pip's cache)."""
    found = find_tools(home_root)
    if found is not None:
        return found
    version = _require_version()
    targets = [c for c in candidates(version, home_root)[-2:] if _writable(c)]
    if not targets:
        raise BackendError(
            "nowhere to put llama.cpp's conversion tools: neither the Python environment nor "
            "ENGRAM_HOME is writable. Set ENGRAM_LLAMACPP_TOOLS to a llama.cpp checkout."
        )
    target = targets[0]
    report(f"fetching llama.cpp's conversion tools from the {DISTRIBUTION} {version} sdist")
    with tempfile.TemporaryDirectory(prefix="engram-llamacpp-sdist-") as scratch:
        cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
               "--progress-bar", "off", "-d", scratch, f"{DISTRIBUTION}=={version}"]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sdists = sorted(Path(scratch).glob("*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            tail = (proc.stderr or proc.stdout)[-1200:]
            raise BackendError(
                f"could not download the {DISTRIBUTION} {version} sdist:\n{tail}\nCheck that "
                "PyPI is reachable, or set ENGRAM_LLAMACPP_TOOLS to a llama.cpp checkout."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        _extract(sdists[0], target)
    return target
