"""`learn`: does the model get better at a repository by learning from it?

For each learning source (`--learn-source`, each its own curve, never mixed):

- `agent`: the agent works through a stream of the repo's *training* tasks (seeded
  order, `--learn-tasks` of them), one at a time, using the memory it has so far
  (adapter + notes); each graded-resolved run is a verified example. With
  `--stream-best-of K` each training task gets up to K samples (sample 0 as
  configured, the others hotter; the first verified one ends the task): rejection
  sampling, as in ReST / SEAL. The held-out arms are not sampled (`--best-of` applies);
- `bootstrap`: a demonstration is written for each training task from its known fix
  (labelled as bootstrap material; never reported as the agent's own).

After every k verified examples (`--learn-every`), and once more at the end of the
stream if examples are left over, memory consolidates (`learn`, gate included) and
the repo's *test* tasks are run for the arms: `notes` (notes in context), `adapter`
(the current adapter: none while the gate has promoted none), `both`, and on request
`candidate` (the round's newest adapter even when the gate rejected it: what the
adapter would have done). The `none` arm (no memory) does not change with learning, so it runs once
(`learn/base`) and is the curve's starting point for every arm. While the gate has
promoted no version, `adapter` is the `none` configuration and `both` the `notes` one:
those cells are not run again but recorded as the same (`same_as.json` in the cell; the
report says so). Measured before this rule: such reruns ended every task with the same
outcome and patch, and cost 15 of a 67-minute run.

With `--collect-probes` the agent stream's runs (every sample) record probe features
into the probe store's dataset, as the resolve track's do: sampled runs of training
tasks are where labelled steps of both classes come from.

Each source learns in its own home under the run directory (`bench.arms.sub_home`):
its stream runs and adapters never reach the user's memory, and evaluation runs of
test tasks are stored in another home so they can never be learned from.

The stream is sequential (the memory a task sees depends on the tasks before it);
`--workers` parallelises the evaluation cells — and the agent stream too when
`--learn-every` is at least the stream's length, since then the only round comes at
the end and every stream task sees the same memory. Resumable: stream results, round
records and evaluation cells are all stored as they complete. A round whose `learn`
finished but whose record was not yet written is consolidated again on resume.

Layout: `learn/base/tasks/…`, `learn/<source>/stream/tasks/…` (agent) or
`learn/<source>/stream/demos/<id>.json` (bootstrap), `learn/<source>/rounds/rNN.json`,
`learn/<source>/rNN/<arm>/tasks/…`, homes in `learn/<source>/home` and `…/eval-home`.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agent import atomic
from agent.types import AdapterStatus, utcnow
from bench.arms import AdapterHook, NotesHook, sub_home
from bench.memory_ops import MemoryOps
from bench.report import markdown as md
from bench.report import plots
from bench.results import BenchRunError
from bench.runner import Arm
from bench.summary import summarise_cell
from bench.tasks import BenchTask
from bench.tracks.base import RunView

if TYPE_CHECKING:
    from bench.session import Session

SOURCES = ("agent", "bootstrap")
ARMS = ("none", "notes", "adapter", "both", "candidate")
DEFAULT_ARMS = ("none", "notes", "adapter", "both")
NO_MEMORY = {"memory.use_adapter": False}


class RoundRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    round: int
    source: str
    verified: int = Field(description="verified examples learned from so far")
    stream_position: int = Field(description="stream tasks done when it was consolidated")
    adapter: dict[str, Any] | None = Field(default=None, description="AdapterVersion")
    learn_s: float
    created_at: str


class DemoRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_id: str
    written: bool
    error: str | None = None
    seconds: float = 0.0


# Arms that are another arm's configuration while no adapter is promoted.
SAME_WITHOUT_ADAPTER = {"adapter": "none", "both": "notes"}


def _promoted(rounds_dir: Path, upto: int) -> bool:
    """Whether the gate promoted a version in any round up to `upto`."""
    for number in range(1, upto + 1):
        path = rounds_dir / f"r{number:02d}.json"
        if path.is_file():
            adapter = RoundRecord.model_validate_json(path.read_text()).adapter or {}
            if adapter.get("status") in (AdapterStatus.ACCEPTED, AdapterStatus.CURRENT):
                return True
    return False


def stream_of(tasks: list[BenchTask], seed: int, limit: int | None) -> list[BenchTask]:
    train = [t for t in tasks if t.split == "train"]
    order = list(range(len(train)))
    random.Random(f"learn-stream-{seed}").shuffle(order)
    stream = [train[i] for i in order]
    return stream[:limit] if limit else stream


def _one_repo(tasks: list[BenchTask]) -> str:
    repos = sorted({t.repo for t in tasks})
    if len(repos) != 1:
        raise BenchRunError(f"the learn track learns one repository at a time; the selected "
                            f"tasks come from {len(repos)}: {', '.join(repos)}")  # fmt: skip
    return repos[0]


class LearnTrack:
    name = "learn"

    def __init__(self, ops: MemoryOps | None = None):
        self.ops = ops

    # -- running ------------------------------------------------------------------

    def run(self, session: Session) -> None:
        from bench.repos import BenchRepos

        self.ops = self.ops or session.memory_ops()
        opts = session.track_options
        every = int(opts.get("learn_every") or 5)
        sources = list(opts.get("learn_sources") or ["agent"])
        arms = [a for a in (opts.get("arms") or DEFAULT_ARMS) if a != "none"]
        unknown = [s for s in sources if s not in SOURCES] + [a for a in arms if a not in ARMS]
        if unknown:
            raise BenchRunError(f"unknown learn source/arm: {', '.join(unknown)}; sources are "
                                f"{', '.join(SOURCES)}, arms {', '.join(ARMS)}")  # fmt: skip
        spec = _one_repo(session.tasks)
        stream = stream_of(session.tasks, session.manifest.seed, opts.get("learn_tasks"))
        held_out = [t for t in session.tasks if t.split == "test"]
        if not stream or not held_out:
            raise BenchRunError(f"the learn track needs training and test tasks of the repo "
                                f"(selected: {len(stream)} train, {len(held_out)} test); run "
                                "it with --split all")  # fmt: skip
        clean = BenchRepos(session.home).open(spec).path
        runner = session.runner()
        eval_root = session.run_dir / "learn"
        runner.run(held_out, session.store("learn", "base"),
                   Arm("none", flags=NO_MEMORY,
                       runs_home=sub_home(session.home, eval_root / "base-home")))  # fmt: skip
        for source in sources:
            self._source(session, source, stream, held_out, clean, every, arms)

    def _source(self, session: Session, source: str, stream: list[BenchTask],
                held_out: list[BenchTask], clean: Path, every: int, arms: list[str]) -> None:  # fmt: skip
        root = session.run_dir / "learn" / source
        learn_home = sub_home(session.home, root / "home")
        eval_home = sub_home(session.home, root / "eval-home")
        from bench.runner import RunnerOptions

        one_at_a_time = RunnerOptions(**{**session.options.__dict__, "workers": 1})
        stream_runner = session.runner(one_at_a_time)
        stream_store = session.store("learn", source, "stream")
        samples = session.track_options.get("stream_best_of")
        stream_flags = {"agent.best_of": int(samples)} if samples else {}
        stream_arm = Arm("stream", flags=stream_flags, runs_home=learn_home, learn=True,
                         hooks=self._stream_hooks(session, learn_home))  # fmt: skip
        if source == "agent" and every >= len(stream):
            # No round can come before the stream ends, so every stream task sees the same
            # memory (the base) and the order cannot matter: run the stream with the
            # session's workers instead of one task at a time, then the one round.
            results = session.runner().run(stream, stream_store, stream_arm)
            verified = sum(int(r.resolved) for r in results.values())
            if verified:
                self._round(session, source, 1, verified, len(stream), clean, learn_home)
                self._evaluate(session, source, 1, held_out, arms, learn_home, eval_home)
            return
        verified, rounds = 0, 0
        for position, task in enumerate(stream, 1):
            if source == "agent":
                # A fresh adapter hook per task: a round may have made a new version.
                stream_arm.hooks = self._stream_hooks(session, learn_home)
                result = stream_runner.run([task], stream_store, stream_arm)[task.instance_id]
                verified += int(result.resolved)
            else:
                verified += int(self._demo(session, task, root, learn_home).written)
            last = position == len(stream)
            due = verified >= (rounds + 1) * every or (last and verified > rounds * every)
            if due and verified > 0:
                rounds += 1
                self._round(session, source, rounds, verified, position, clean, learn_home)
                self._evaluate(session, source, rounds, held_out, arms, learn_home, eval_home)

    def _stream_hooks(self, session: Session, learn_home) -> list:
        """The agent stream's hooks: its memory so far, and with `--collect-probes` the
        probe feature recorder (training tasks only: held-out cells never feed a probe)."""
        hooks: list = [AdapterHook(self.ops, learn_home), NotesHook(self.ops, learn_home)]
        if session.track_options.get("collect_probes"):
            from bench.collect import FeatureCollector, probe_dataset_dir

            hooks.append(FeatureCollector(probe_dataset_dir(session.home)))
        return hooks

    def _demo(self, session: Session, task: BenchTask, root: Path, home) -> DemoRecord:
        from bench.repos import task_checkout

        path = root / "stream" / "demos" / f"{task.instance_id}.json"
        if path.is_file():
            return DemoRecord.model_validate_json(path.read_text())
        started = time.monotonic()
        try:
            written = self.ops.bootstrap(
                task, task_checkout(task, session.home), home, session.config
            )
            record = DemoRecord(instance_id=task.instance_id, written=written)
        except Exception as exc:
            if isinstance(exc, BenchRunError) or getattr(exc, "stops_run", False):
                raise
            record = DemoRecord(instance_id=task.instance_id, written=False,
                                error=f"{type(exc).__name__}: {exc}"[:500])  # fmt: skip
        record.seconds = round(time.monotonic() - started, 3)
        atomic.write_text(path, record.model_dump_json(indent=2))
        session.note(f"bootstrap demonstration {task.instance_id}: "
                     f"{'written' if record.written else 'not written'}")  # fmt: skip
        return record

    def _round(self, session: Session, source: str, number: int, verified: int, position: int,
               clean: Path, learn_home) -> RoundRecord:  # fmt: skip
        path = session.run_dir / "learn" / source / "rounds" / f"r{number:02d}.json"
        if path.is_file():
            return RoundRecord.model_validate_json(path.read_text())
        session.note(f"learn ({source}): consolidating after {verified} verified examples")
        started = time.monotonic()
        version = self.ops.learn(clean, learn_home, session.config, bootstrap=source == "bootstrap")
        record = RoundRecord(
            round=number, source=source, verified=verified, stream_position=position,
            adapter=version.model_dump(mode="json") if version is not None else None,
            learn_s=round(time.monotonic() - started, 3), created_at=utcnow().isoformat(),
        )  # fmt: skip
        atomic.write_text(path, record.model_dump_json(indent=2))
        return record

    def _evaluate(self, session: Session, source: str, number: int, held_out: list[BenchTask],
                  arms: list[str], learn_home, eval_home) -> None:  # fmt: skip
        runner = session.runner()
        promoted = _promoted(session.run_dir / "learn" / source / "rounds", number)
        for arm in arms:
            twin = None if promoted else SAME_WITHOUT_ADAPTER.get(arm)
            if twin is not None and (twin == "none" or twin in arms):
                cell = session.run_dir / "learn" / source / f"r{number:02d}" / arm
                target = "learn/base" if twin == "none" else f"learn/{source}/r{number:02d}/{twin}"
                atomic.write_text(cell / "same_as.json", json.dumps({
                    "same_as": target, "arm": twin,
                    "why": "the gate has promoted no adapter version yet, so this arm runs the "
                           f"base model: the `{twin}` configuration",
                }, indent=2))  # fmt: skip
                continue
            hooks = []
            if arm in ("adapter", "both"):
                hooks.append(AdapterHook(self.ops, learn_home))
            if arm == "candidate":  # the round's adapter even if the gate refused it
                hooks.append(AdapterHook(self.ops, learn_home, newest=True))
            if arm in ("notes", "both"):
                hooks.append(NotesHook(self.ops, learn_home))
            flags = {} if arm in ("adapter", "both", "candidate") else NO_MEMORY
            runner.run(held_out, session.store("learn", source, f"r{number:02d}", arm),
                       Arm(arm, flags=flags, runs_home=eval_home, hooks=hooks))  # fmt: skip

    # -- reading back -------------------------------------------------------------

    def summarise(self, view: RunView) -> dict[str, Any]:
        opts = view.manifest.options
        base = summarise_cell("learn/base", view.cell("learn", "base").values())
        out: dict[str, Any] = {"every": opts.get("learn_every"), "base": base.model_dump(mode="json"),
                               "sources": {}}  # fmt: skip
        for source in opts.get("learn_sources") or ["agent"]:
            root = view.path("learn", source)
            rounds = [json.loads(p.read_text()) for p in sorted((root / "rounds").glob("r*.json"))]
            entry: dict[str, Any] = {"rounds": [], "stream": None}
            if source == "agent":
                stream = summarise_cell(f"learn/{source}/stream",
                                        view.cell("learn", source, "stream").values())  # fmt: skip
                entry["stream"] = stream.model_dump(mode="json")
            else:
                demos = [json.loads(p.read_text())
                         for p in sorted((root / "stream" / "demos").glob("*.json"))]  # fmt: skip
                entry["demos"] = {"tasks": len(demos), "written": sum(d["written"] for d in demos),
                                  "errors": [d for d in demos if d.get("error")][:10]}  # fmt: skip
            for record in rounds:
                cells = {}
                for arm_dir in sorted((root / f"r{record['round']:02d}").glob("*")):
                    same = arm_dir / "same_as.json"
                    if same.is_file():  # filled in below, from the cell it equals
                        continue
                    results = view.cell("learn", source, f"r{record['round']:02d}", arm_dir.name)
                    cells[arm_dir.name] = summarise_cell(arm_dir.name, results.values()).model_dump(
                        mode="json"
                    )
                for same in sorted((root / f"r{record['round']:02d}").glob("*/same_as.json")):
                    twin = json.loads(same.read_text())
                    cells[same.parent.name] = {**(base.model_dump(mode="json")
                                                  if twin["arm"] == "none"
                                                  else cells.get(twin["arm"], {})),
                                               "same_as": twin["arm"]}  # fmt: skip
                adapter = record.get("adapter") or {}
                entry["rounds"].append({
                    "round": record["round"], "verified": record["verified"],
                    "stream_position": record["stream_position"], "learn_s": record["learn_s"],
                    "adapter_version": adapter.get("version"), "adapter_status": adapter.get("status"),
                    "adapter_metrics": adapter.get("metrics", {}), "cells": cells,
                })  # fmt: skip
            out["sources"][source] = entry
        return out

    def plots(self, summary: dict[str, Any], out: Path) -> dict[str, str]:
        made: dict[str, str] = {}
        base = summary["base"]["resolved"]
        for source, entry in summary["sources"].items():
            if not entry["rounds"]:
                continue
            arms = sorted({a for r in entry["rounds"] for a in r["cells"]}, key=ARMS.index)
            series = {"none": [(0, base)] + [(r["verified"], base) for r in entry["rounds"]]}
            for arm in arms:
                series[arm] = [(0, base)] + [(r["verified"], r["cells"][arm]["resolved"])
                                             for r in entry["rounds"] if arm in r["cells"]]  # fmt: skip
            name = f"learn_curve_{source}"
            made[name] = plots.learning_curve(
                series, out / f"{name}.png",
                f"learning from {'the agent’s own verified runs' if source == 'agent' else 'bootstrap demonstrations'}",
            ).name  # fmt: skip
            last = entry["rounds"][-1]
            bars = {"none": base, **{a: last["cells"][a]["resolved"] for a in arms}}
            made[f"learn_arms_{source}"] = plots.rate_bars(
                bars, out / f"learn_arms_{source}.png",
                f"{source}: held-out resolved rate after round {last['round']}",
            ).name  # fmt: skip
        return made

    def markdown(self, summary: dict[str, Any], plots_made: dict[str, str]) -> list[str]:
        lines = ["## learn", "",
                 f"Consolidation every {summary['every']} verified examples; held-out = the "
                 "repo's test tasks. No memory (`none`): "
                 f"{md.rate_text(summary['base']['resolved'])}.", ""]  # fmt: skip
        for source, entry in summary["sources"].items():
            what = ("the agent's own verified runs" if source == "agent"
                    else "bootstrap demonstrations (written from the known fixes of training tasks)")  # fmt: skip
            lines += [f"### learning from {what}", ""]
            if entry.get("stream"):
                s = entry["stream"]
                lines.append(f"Stream: {s['tasks']} training tasks, resolved "
                             f"{md.rate_text(s['resolved'])} while learning.")  # fmt: skip
            if entry.get("demos"):
                d = entry["demos"]
                lines.append(
                    f"Demonstrations: {d['written']} written for {d['tasks']} training tasks."
                )
            lines.append("")
            if not entry["rounds"]:
                lines += ["No consolidation round yet (too few verified examples).", ""]
                continue
            arms = sorted({a for r in entry["rounds"] for a in r["cells"]}, key=ARMS.index)
            rows = []
            for r in entry["rounds"]:
                version = (
                    "–"
                    if r["adapter_version"] is None
                    else f"v{r['adapter_version']} ({r['adapter_status']})"
                )
                rows.append([r["round"], r["verified"], version, md.seconds(r["learn_s"]),
                             *[md.rate_text(r["cells"][a]["resolved"]) if a in r["cells"] else "–"
                               for a in arms]])  # fmt: skip
            lines += md.table(["round", "verified", "adapter", "learn time", *arms], rows)
            lines.append("")
            refused = [f"v{r['adapter_version']}" for r in entry["rounds"]
                       if r["adapter_status"] not in (None, "accepted")]  # fmt: skip
            if refused:
                lines += [f"The gate did not promote {', '.join(refused)}: `adapter` and `both` "
                          "run the current (promoted) adapter, the base model while there is "
                          "none; the `candidate` arm, where it ran, is the round's own version.",
                          ""]  # fmt: skip
            same = sorted({f"`{a}` = `{c['same_as']}`" for r in entry["rounds"]
                           for a, c in r["cells"].items() if c.get("same_as")})  # fmt: skip
            if same:
                lines += [f"Not run again while no version was promoted ({', '.join(same)}): "
                          "the same configuration, so the same results.", ""]  # fmt: skip
            lines += md.image(f"learn_curve_{source}", plots_made, f"learning curve ({source})")
            lines += md.image(f"learn_arms_{source}", plots_made, f"arms ({source})")
        return lines
