"""Sandbox benchmark: container start, exec round trip, workspace clone, snapshot, restore.

    .venv/bin/python scripts/bench_sandbox.py [--reps 7] [--files 6000] [--json out.json]

Every figure is the median of several repetitions (min and max shown too), measured on
the real Docker sandbox and real git. Two repositories:

- small: engram's own `sandboxes/` package (a few dozen files);
- large: the Python standard library of this interpreter, topped up with files from its
  site-packages (skipping files over 512 KiB) until `--files` files, committed into a
  temporary git repository and packed (`git gc`).

Snapshot "cold" is the first snapshot of a fresh checkout into a store seeded from the
repository (what `Workspace.create` does: every file hashed, no object written); the
same into an empty store (every object compressed and written) is shown for comparison.
"Warm" is a later snapshot after changing one file. Restore is measured after changing
three tracked files and adding five new ones (one in a new directory), through
`DockerSandbox.restore` (which first clears the container's processes). Last, a per-repo
image for two pinned wheels is built (download with the host's pip, offline install,
commit) and then looked up again unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandboxes.container import DockerSandbox  # noqa: E402
from sandboxes.engine import engine_status  # noqa: E402
from sandboxes.image import image_current  # noqa: E402
from sandboxes.settings import SandboxSettings  # noqa: E402
from sandboxes.snapshots import SnapshotStore  # noqa: E402
from sandboxes.workspace import Workspace  # noqa: E402

GIT_ENV = {
    **os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip
MAX_FILE = 512 * 1024


def commit_tree(repo: Path) -> None:
    # Packed, as a repository that was cloned or has been used for a while is.
    # gc.auto off: the commit would otherwise start a background gc that races ours.
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "config", "gc.auto", "0"], ["git", "add", "-A"],
                ["git", "commit", "-q", "-m", "bench tree"], ["git", "gc", "-q"]):  # fmt: skip
        subprocess.run(cmd, cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def copy_files(sources: list[tuple[Path, Path]], dest: Path, limit: int) -> int:
    """Copy regular files (sorted, none over MAX_FILE) from each (root, prefix) pair."""
    count = 0
    for root, prefix in sources:
        for path in sorted(root.rglob("*")):
            if count >= limit:
                return count
            if path.is_symlink() or not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.stat().st_size > MAX_FILE:
                continue
            target = dest / prefix / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            count += 1
    return count


def make_repos(work: Path, files: int) -> dict[str, tuple[Path, int]]:
    small = work / "small"
    n_small = copy_files([(ROOT / "sandboxes", Path("sandboxes"))], small, 10_000)
    commit_tree(small)
    large = work / "large"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    purelib = Path(sysconfig.get_paths()["purelib"])
    n_large = copy_files([(stdlib, Path("stdlib")), (purelib, Path("site"))], large, files)
    commit_tree(large)
    return {"small": (small, n_small), "large": (large, n_large)}


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Results:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, name: str, samples: list[float]) -> None:
        row = {
            "name": name, "n": len(samples), "median_ms": statistics.median(samples) * 1000,
            "min_ms": min(samples) * 1000, "max_ms": max(samples) * 1000,
        }  # fmt: skip
        self.rows.append(row)
        print(f"  {name:<62} median {row['median_ms']:9.1f} ms   "
              f"(min {row['min_ms']:.1f}, max {row['max_ms']:.1f}, n={row['n']})", flush=True)  # fmt: skip


def bench_container(work: Path, repo: Path, reps: int, results: Results) -> None:
    ws = Workspace.create(repo, work / "ws-container", work / "snap-container.git", "bench-c")
    starts, closes = [], []
    for _ in range(reps):
        started = time.perf_counter()
        box = DockerSandbox(ws)
        starts.append(time.perf_counter() - started)
        closes.append(timed(box.close))
    results.add("container start", starts)
    results.add("container remove", closes)
    with DockerSandbox(ws) as sandbox:
        sandbox.execute("true")  # the first exec warms the engine's caches
        results.add("exec round trip (`true`)", [timed(lambda: sandbox.execute("true"))
                                                 for _ in range(max(reps, 30))])  # fmt: skip
    ws.remove()


def bench_repo(work: Path, label: str, repo: Path, reps: int, results: Results) -> None:
    creates, seeds, colds, empties, warms, restores = [], [], [], [], [], []
    made: list[Workspace] = []
    for i in range(reps):
        ws_path, snap = work / f"ws-{label}-{i}", work / f"snap-{label}-{i}.git"
        creates.append(timed(lambda: made.append(Workspace.create(repo, ws_path, snap, f"b{i}"))))  # noqa: B023
        # The first snapshot as Workspace.create takes it, on a second store: seeding
        # (a hard-linked bare clone of the repository) and the snapshot timed apart.
        seed_dir, base = work / f"seed-{label}-{i}.git", made[-1].base_commit
        started = time.perf_counter()
        store = SnapshotStore.seeded(seed_dir, ws_path, repo, base)
        seeds.append(time.perf_counter() - started)
        colds.append(timed(store.snapshot))
        empties.append(timed(SnapshotStore(work / f"empty-{label}-{i}.git", ws_path).snapshot))
    ws = made[0]
    tracked = sorted(p for p in ws.path.rglob("*.py") if ".git" not in p.parts)[:50]
    with DockerSandbox(ws) as sandbox:
        for i in range(reps):
            with tracked[i % len(tracked)].open("a") as handle:
                handle.write(f"# warm {i}\n")
            warms.append(timed(sandbox.snapshot))
        for i in range(reps):
            ref = sandbox.snapshot(f"before restore {i}")
            for path in tracked[10:13]:
                with path.open("a") as handle:
                    handle.write(f"# edit {i}\n")
            for j in range(4):
                (ws.path / f"new-{j}.txt").write_text("new\n")
            (ws.path / "new-dir" / "deep").mkdir(parents=True, exist_ok=True)
            (ws.path / "new-dir" / "deep" / "file.txt").write_text("new\n")
            restores.append(timed(lambda ref=ref: sandbox.restore(ref)))
            assert not (ws.path / "new-dir").exists()
    results.add(f"workspace create (clone+checkout+base snapshot), {label}", creates)
    results.add(f"snapshot store seed (hard-linked bare clone), {label}", seeds)
    results.add(f"snapshot cold (first, seeded store), {label}", colds)
    results.add(f"snapshot cold (first, empty store; not used), {label}", empties)
    results.add(f"snapshot warm (1 file changed), {label}", warms)
    results.add(f"restore (3 edits, 5 new files), {label}", restores)


def bench_repo_image(work: Path, image: str, reps: int, results: Results) -> None:
    """Per-repo image for two pinned wheels: a full build, then the unchanged-repo lookup."""
    from sandboxes.repo_image import ensure_repo_image

    repo = work / "deps"
    repo.mkdir()
    (repo / "requirements.txt").write_text("six==1.16.0\niniconfig==2.0.0\n")
    commit_tree(repo)
    images = work / "images"
    quiet = lambda message: None  # noqa: E731
    builds = [timed(lambda: ensure_repo_image(repo, image, images, quiet, rebuild=True))
              for _ in range(min(reps, 3))]  # fmt: skip
    cached = [timed(lambda: ensure_repo_image(repo, image, images, quiet)) for _ in range(reps)]
    results.add("repo image build (2 wheels: download, install, commit)", builds)
    results.add("repo image lookup, unchanged repo (cached)", cached)
    built = ensure_repo_image(repo, image, images, quiet)
    subprocess.run(["docker", "rmi", "-f", built.tag], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions per measurement")
    parser.add_argument("--files", type=int, default=6000, help="files in the large repository")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-repo-image", action="store_true",
                        help="skip the per-repo image build (it downloads two wheels)")  # fmt: skip
    args = parser.parse_args()

    status = engine_status()
    image = SandboxSettings().image
    if not status.ok or not image_current(image):
        sys.exit("needs a Docker engine and the sandbox image: run `engram setup --no-model`")
    work = Path(tempfile.mkdtemp(prefix="engram-bench-sandbox-"))
    try:
        print(f"engine {status.version}, {os.cpu_count()} CPUs, {platform.platform()}, "
              f"Python {platform.python_version()}, image {image}, reps {args.reps}")  # fmt: skip
        repos = make_repos(work, args.files)
        for label, (path, count) in repos.items():
            size = sum(
                p.stat().st_size for p in path.rglob("*") if p.is_file() and ".git" not in p.parts
            )
            print(f"repo {label}: {count} files, {size / 1e6:.1f} MB")
        results = Results()
        bench_container(work, repos["small"][0], args.reps, results)
        for label, (path, _) in repos.items():
            bench_repo(work, label, path, args.reps, results)
        if not args.no_repo_image:
            bench_repo_image(work, image, args.reps, results)
        if args.json:
            args.json.write_text(json.dumps({"reps": args.reps, "results": results.rows}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
