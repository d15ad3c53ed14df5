"""`engram bench generate`: bug-injection tasks from a repository's own code.

1. Materialise the source in the bench store (`repos`) and find every mutation site
   of its non-test Python files (`mutation`).
2. Run the clean suite once in a sandbox (the baseline: which tests pass).
3. Validate candidates in sandboxes (`--workers N` of them), in the seeded order of
   `assembly.candidate_order`, recording each in the journal as it finishes.
4. `assembly.assemble` turns the results into tasks; repeat 3–4 until the plan is
   filled, the sites run out or the candidate budget is spent.
5. Commit each task's bug in the store (its base commit), take the reverse diff as
   the gold patch, write the statement from the failure, assign splits.
"""

from __future__ import annotations

import hashlib
import queue
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bench.assembly import Assembly, Pick, assemble, candidate_order, difficulty_plan
from bench.journal import Journal
from bench.mutation import KINDS, Mutation, MutationError, apply_mutations, candidate_key
from bench.mutation import find_mutations as find_in_file
from bench.repos import BenchRepo
from bench.splits import DEFAULT_HELDOUT, DEFAULT_TEST_FRACTION, assign_splits
from bench.statement import FailureFacts, write_statement
from bench.tasks import BenchTask, SiteRecord
from bench.validation import Baseline, CandidateResult, ValidationWorker, default_timeout
from sandboxes.settings import SandboxSettings
from tools.testpaths import is_mutable_source

Report = Callable[[str], None]
VALIDATOR_VERSION = 1  # bump when validation results change meaning (invalidates journals)
MAX_ERRORS_IN_A_ROW = 4


class GenerationError(RuntimeError):
    """Generation cannot go on; the message says what to do."""

    user_facing = True


class GenerateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=1)
    seed: int = 0
    kinds: list[str] = Field(default_factory=lambda: list(KINDS))
    min_sites: int = Field(default=1, ge=1)
    max_sites: int = Field(default=1, ge=1)
    workers: int = Field(default=1, ge=1)
    timeout_s: float | None = Field(default=None, description="None: max(30 s, 5 × baseline)")
    max_fail_fraction: float = Field(default=0.5, gt=0, le=1)
    max_candidates: int | None = Field(default=None, description="None: 40 per task")
    heldout_kinds: list[str] = Field(default_factory=lambda: list(DEFAULT_HELDOUT))
    test_fraction: float = DEFAULT_TEST_FRACTION


class KindStats(BaseModel):
    sites: int = 0
    tried: int = 0
    kept: int = 0
    statuses: dict[str, int] = Field(default_factory=dict)
    in_tasks: int = 0


class GenerationStats(BaseModel):
    repo: str
    clean_commit: str
    options: GenerateOptions
    tests_in_suite: int
    baseline_s: float
    kinds: dict[str, KindStats]
    combinations_tried: int
    combinations_kept: int
    tasks: int
    by_difficulty: dict[str, int]
    validation_s_total: float
    validation_s_per_task: float
    candidate_s_median: float = Field(description="median seconds to validate one candidate")
    validated_this_run: int
    wall_s: float
    sandbox: str


def scan(repo: BenchRepo, kinds: list[str]) -> tuple[dict[str, bytes], list[Mutation]]:
    sources = {p: repo.read_clean(p) for p in repo.clean_files() if is_mutable_source(p)}
    found = [m for p, data in sorted(sources.items()) for m in find_in_file(p, data)]
    return sources, [m for m in found if m.kind in kinds]


def public_names(sources: dict[str, bytes]) -> set[str]:
    import ast

    names: set[str] = set()
    for data in sources.values():
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            defines = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            if defines and not node.name.startswith("_"):
                names.add(node.name)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                        names.add(item.name)
    return names


class Generator:
    def __init__(
        self,
        repo: BenchRepo,
        options: GenerateOptions,
        settings: SandboxSettings,
        work_dir: Path,
        report: Report = lambda m: None,
    ):
        self.repo = repo
        self.options = options
        self.settings = settings
        self.report = report
        self.sandbox_kind = self._resolve_kind(settings)
        context = hashlib.sha256(
            f"{repo.clean_commit}|{self.sandbox_kind}|{settings.image}|{VALIDATOR_VERSION}|"
            f"{options.max_fail_fraction}|{options.timeout_s}".encode()
        ).hexdigest()[:12]
        self.state_dir = work_dir / context
        self.journal = Journal(self.state_dir / "journal.jsonl")
        self.validated_now = 0
        self.errors_in_a_row = 0

    @staticmethod
    def _resolve_kind(settings: SandboxSettings) -> str:
        if settings.kind != "auto":
            return settings.kind
        from sandboxes.engine import engine_status

        return "docker" if engine_status(timeout=3.0).ok else "local"

    # -- workers ---------------------------------------------------------------

    def _open_workers(self, count: int) -> list[ValidationWorker]:
        settings = self.settings.model_copy(update={"kind": self.sandbox_kind})
        boxes = self.state_dir / "workers"
        shutil.rmtree(boxes, ignore_errors=True)  # left over by a killed run
        return [
            ValidationWorker(self.repo, boxes / str(i), settings, f"bench-gen-{i}")
            for i in range(count)
        ]

    def _validate_all(
        self,
        workers: list[ValidationWorker],
        batch: list[list[Mutation]],
        sources: dict[str, bytes],
        baseline: Baseline,
        results: dict[str, CandidateResult],
    ) -> None:
        free: queue.Queue[ValidationWorker] = queue.Queue()
        for worker in workers:
            free.put(worker)
        timeout = self.options.timeout_s or default_timeout(baseline)

        def job(item: tuple[list[Mutation], dict[str, bytes]]) -> CandidateResult:
            mutations, files = item
            worker = free.get()
            try:
                return worker.validate(candidate_key(mutations), mutations, files, baseline,
                                       timeout, self.options.max_fail_fraction)  # fmt: skip
            finally:
                free.put(worker)

        # Mutated files are made here, not in the threads: CPython 3.11's ast.parse is not
        # thread-safe ("AST constructor recursion depth mismatch").
        prepared = [(mutations, apply_mutations(sources, mutations)) for mutations in batch]
        with ThreadPoolExecutor(max_workers=len(workers)) as pool:
            for result in pool.map(job, prepared):
                results[result.key] = result
                if result.status == "error":
                    # The sandbox failed, not the candidate: not journaled, so a rerun tries
                    # it again; several in a row mean the sandbox is broken.
                    self.errors_in_a_row += 1
                    if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                        raise GenerationError(
                            f"the sandbox failed {self.errors_in_a_row} times in a row (last: "
                            f"{result.detail}). Check `engram doctor`, then rerun: validated "
                            "candidates are kept in the journal."
                        )
                else:
                    self.errors_in_a_row = 0
                    self.journal.add(result)
                self.validated_now += 1
                where = ", ".join(f"{m.file}:{m.line} {m.kind}" for m in result.mutations)
                self.report(f"{result.status:>16}  {result.duration_s:5.1f}s  {where}")

    # -- the loop ----------------------------------------------------------------

    @staticmethod
    def _next_singles(
        order: list[Mutation],
        start: int,
        room: int,
        sources: dict[str, bytes],
        results: dict[str, CandidateResult],
    ) -> list[list[Mutation]]:
        """The next `room` singles to validate, in order. Mutations that do not parse or
        change nothing are recorded as `invalid` on the way and never reach a sandbox."""
        batch: list[list[Mutation]] = []
        for m in order[start:]:
            if len(batch) >= room:
                break
            key = candidate_key([m])
            if key in results:
                continue
            try:
                apply_mutations(sources, [m])
            except MutationError as exc:
                results[key] = CandidateResult(key=key, mutations=[m], status="invalid",
                                               detail=str(exc))  # fmt: skip
                continue
            batch.append([m])
        return batch

    def run(self) -> tuple[list[BenchTask], GenerationStats]:
        started = time.monotonic()
        opts = self.options
        sources, mutations = scan(self.repo, opts.kinds)
        if not mutations:
            raise GenerationError(
                f"no mutation sites of kinds {', '.join(opts.kinds)} in the Python code of "
                f"{self.repo.source.spec} (test files are never mutated). Try other --kinds."
            )
        order = candidate_order(mutations, opts.kinds, opts.seed)
        keys = [candidate_key([m]) for m in order]
        plan = difficulty_plan(opts.n, opts.min_sites, opts.max_sites, opts.seed)
        heldout = frozenset(opts.heldout_kinds)
        baseline, results = self.journal.load()
        self.report(f"{len(mutations)} mutation sites; {len(results)} candidates already in the "
                    f"journal {self.journal.path}")  # fmt: skip
        budget = opts.max_candidates or 40 * opts.n
        batch_size = max(4, 2 * opts.workers)
        workers: list[ValidationWorker] = []
        try:
            if baseline is None:
                workers = self._open_workers(opts.workers)
                baseline = workers[0].baseline()
                self.journal.add_baseline(baseline)
            self.report(f"baseline: {len(baseline.passing)} tests pass "
                        f"({baseline.duration_s:.1f}s): {baseline.command}")  # fmt: skip
            while True:
                state = assemble(plan, order, results, heldout)
                if not state.pending and not state.unfilled:
                    break
                todo = [c for c in state.pending if candidate_key(c) not in results]
                spent = len(state.combos) + sum(
                    1 for k in keys if k in results and results[k].status != "invalid"
                )
                if state.unfilled and spent < budget:
                    room = max(0, batch_size - len(todo))
                    todo += self._next_singles(order, state.prefix, room, sources, results)
                    if not todo and room and state.prefix < len(order):
                        continue  # only invalid ones came next: the prefix grew
                if not todo:
                    smaller = [k - 1 if i in state.unfilled and k > 1 else k
                               for i, k in enumerate(plan)]  # fmt: skip
                    if smaller == plan or state.pending:
                        break  # sites or budget exhausted
                    plan = smaller
                    continue
                workers = workers or self._open_workers(opts.workers)
                self._validate_all(workers, todo, sources, baseline, results)
        finally:
            for w in workers:
                w.close()
        state = assemble(plan, order, results, heldout)
        tasks = self._tasks(state, sources, baseline, mutations)
        stats = self._stats(state, results, order, mutations, tasks, baseline, started)
        return tasks, stats

    # -- results -----------------------------------------------------------------

    def _instance_id(self, pick: Pick) -> str:
        return f"{self.repo.source.name}__bug-{candidate_key(pick.mutations)[:12]}"

    def _tasks(
        self,
        state: Assembly,
        sources: dict[str, bytes],
        baseline: Baseline,
        mutations: list[Mutation],
    ) -> list[BenchTask]:
        names = public_names(sources)
        tasks: list[BenchTask] = []
        for pick in sorted(state.picks, key=lambda p: p.slot):
            iid = self._instance_id(pick)
            files = apply_mutations(sources, pick.mutations)
            base = self.repo.commit_bug(files, iid)
            failing = set(pick.result.fail_to_pass)
            f2p = [t for t in baseline.passing if t in failing]
            facts = FailureFacts(
                failing=f2p, messages=pick.result.messages, excerpt=pick.result.excerpt,
                plan=baseline.plan, mutations=pick.mutations,
                read_clean=lambda rel: sources.get(rel) or self._read_or_none(rel),
                public_names=names,
            )  # fmt: skip
            sites = sorted(pick.mutations, key=lambda m: (m.file, m.start))
            tasks.append(BenchTask(
                instance_id=iid, repo=self.repo.source.spec, base_commit=base,
                problem_statement=write_statement(iid, facts), FAIL_TO_PASS=f2p,
                PASS_TO_PASS=[t for t in baseline.passing if t not in failing],
                patch=self.repo.fix_patch(base), test_patch="", version=self.repo.version,
                environment_setup_commit=self.repo.clean_commit, hints_text="",
                source="generated", difficulty=len(pick.mutations),
                mutations=[SiteRecord(kind=m.kind, file=m.file, line=m.line, end_line=m.end_line,
                                      function=m.function, description=m.description)
                           for m in sites],
                validation_s=round(pick.result.duration_s
                                   + sum(c.duration_s for c in pick.components), 2),
            ))  # fmt: skip
        return assign_splits(
            tasks, self.options.seed, self.options.test_fraction, self.options.heldout_kinds
        )

    def _read_or_none(self, rel: str) -> bytes | None:
        try:
            return self.repo.read_clean(rel)
        except Exception:
            return None

    def _stats(
        self,
        state: Assembly,
        results: dict[str, CandidateResult],
        order: list[Mutation],
        mutations: list[Mutation],
        tasks: list[BenchTask],
        baseline: Baseline,
        started: float,
    ) -> GenerationStats:
        kinds = {k: KindStats() for k in self.options.kinds}
        for m in mutations:
            kinds[m.kind].sites += 1
        considered: list[CandidateResult] = []
        for m in order[: state.prefix]:
            result = results[candidate_key([m])]
            row = kinds[m.kind]
            row.statuses[result.status] = row.statuses.get(result.status, 0) + 1
            if result.status != "invalid":
                row.tried += 1
                row.kept += result.kept
                considered.append(result)
        for task in tasks:
            for site in task.mutations or []:
                kinds[site.kind].in_tasks += 1
        combos = [results[k] for k in state.combos if k in results]
        considered += combos
        total = sum(r.duration_s for r in considered)
        return GenerationStats(
            repo=self.repo.source.spec, clean_commit=self.repo.clean_commit,
            options=self.options, tests_in_suite=len(baseline.passing),
            baseline_s=round(baseline.duration_s, 2), kinds=kinds,
            combinations_tried=len(combos), combinations_kept=sum(r.kept for r in combos),
            tasks=len(tasks),
            by_difficulty=dict(sorted(Counter(str(t.difficulty) for t in tasks).items())),
            validation_s_total=round(total, 1),
            validation_s_per_task=round(total / len(tasks), 2) if tasks else 0.0,
            candidate_s_median=round(statistics.median(r.duration_s for r in considered), 2)
            if considered else 0.0,
            validated_this_run=self.validated_now, wall_s=round(time.monotonic() - started, 1),
            sandbox=self.sandbox_kind,
        )  # fmt: skip
