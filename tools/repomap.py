"""The repo map: which files and definitions matter for the task at hand, rendered as a
compact outline that fits a token budget.

Files are nodes; file A points at file B when A uses a name B defines (or imports B).
An edge's weight grows with how often A uses the name (square root: ten uses are not
ten times the evidence of one) and shrinks with how many files define that name (a
name defined everywhere — `run`, `get` — says little about which file is meant).
PageRank over that graph, personalised to what is in play (files mentioned, opened,
edited or in a traceback; identifiers named in the task), ranks the files; each
file's rank then flows along its edges to the definitions it uses, which ranks the
definitions. The outline lists the best definitions — signature and line number —
grouped by file, then as many further file paths as still fit.

Nothing here is cached across processes: the index is (see tools.index), and building
the graph from it is cheap next to parsing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.focus import Focus, focus_from  # noqa: F401  (re-exported)
from tools.symbols import Definition

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex

TokenCounter = Callable[[str], int]

DAMPING = 0.85
# A name defined in more files than this is too generic to be evidence of a dependency
# (unless it is one of the identifiers in play).
MAX_DEFINERS = 12
FOCUS_NAME_BOOST = 10.0
AMBIGUOUS_ATTRIBUTE_FACTOR = 0.1
REVERSE_FACTOR = 0.3
# `x.get`, `x.split`, `x.items`: names the builtin types already have say little about
# which repository class `x` is.
BUILTIN_TYPE_ATTRIBUTES = frozenset(
    name for t in (str, bytes, list, dict, set, tuple, int, float, object) for name in dir(t)
)
PRIVATE_NAME_FACTOR = 0.1
_RENDERED_KINDS = frozenset({"class", "function", "method", "variable", "attribute"})
_SHOWN_DECORATORS = frozenset({"property", "classmethod", "staticmethod", "abstractmethod"})


def estimate_tokens(text: str) -> int:
    """A cheap stand-in for a tokenizer. Rendered maps measured 2.9–3.3 characters per
    token with the embedded model's tokenizer (docs/repomap.md); dividing by 2.7 errs
    high, so a map sized by the estimate fits the real budget."""
    return math.ceil(len(text) / 2.7)


@dataclass(frozen=True)
class RankedDefinition:
    path: str
    definition: Definition
    score: float


@dataclass(frozen=True)
class Ranking:
    files: dict[str, float]  # path → PageRank (sums to 1 over Python files)
    definitions: list[RankedDefinition]  # best first


@dataclass(frozen=True)
class RenderedMap:
    text: str
    tokens: int
    files: list[str]  # every file named in the text, in order
    definitions: list[str]  # `path:Qualified.name` of every definition shown


@dataclass
class _Graph:
    files: list[str]
    position: dict[str, int]
    # (source, target) → weight, and (source, target, name) → weight for definitions
    edges: dict[tuple[int, int], float]
    name_edges: dict[tuple[int, int, str], float]
    definers: dict[str, list[str]]


class RepoMap:
    """Ranks and renders one index. Reuse the object while the index is unchanged: the
    graph is built once, each `render(focus)` only re-runs the ranking."""

    def __init__(self, index: SymbolIndex):
        self.index = index
        self._graph: _Graph | None = None

    # ------------------------------------------------------------------ graph

    def graph(self) -> _Graph:
        if self._graph is None:
            self._graph = self._build_graph()
        return self._graph

    def _build_graph(self) -> _Graph:
        from tools.resolution import Resolver

        index = self.index
        resolver = Resolver(index)
        files = sorted(index.entries)
        position = {f: i for i, f in enumerate(files)}
        all_definers: dict[str, set[str]] = defaultdict(set)
        for path in files:
            for d in index.definitions(path):
                short = d.name.rsplit(".", 1)[-1]
                if d.kind == "attribute" and d.signature.startswith("self."):
                    continue  # instance attributes: too many, too generic to link files
                all_definers[short].add(path)
        edges: dict[tuple[int, int], float] = defaultdict(float)
        name_edges: dict[tuple[int, int, str], float] = defaultdict(float)

        def link(source: int, target: str, name: str | None, weight: float) -> None:
            if position.get(target, source) == source:
                return
            edges[(source, position[target])] += weight
            if name is not None:
                name_edges[(source, position[target], name)] += weight

        def spread(source: int, name: str, weight: float, where: set[str] | None) -> None:
            # An unresolved use: any definer may be meant, so each gets a share; a name
            # defined in many places is no evidence at all.
            if not where or len(where) > MAX_DEFINERS:
                return
            for target in where:
                link(source, target, name, weight / len(where))

        for path in files:
            source = position[path]
            parse = index.entries[path].symbols
            own = {d.name for d in parse.definitions}
            bound = _import_bindings(index, resolver, path)
            stars = [index.absolute_import(path, ref) for ref in parse.imports if ref.name == "*"]
            for module_file in {t for t, _ in bound.values() if t is not None}:
                link(source, module_file, None, 1.0)  # importing a module is a dependency
            for name, count in parse.references.items():
                if name.startswith("__"):
                    continue
                weight = _use_weight(name, count)
                if name in bound:
                    # Imported by name: the import says exactly which file is meant, or
                    # that the name comes from outside the repository.
                    target, defined = bound[name]
                    if target is not None and defined is not None:
                        link(source, target, defined, weight)
                elif name not in own and stars:
                    # Otherwise a bare name that is neither imported nor defined here is a
                    # local or a builtin: it cannot be another file's definition.
                    for module in stars:
                        found = resolver.in_module(module, [name], 0)
                        if found.status == "found" and found.symbol is not None:
                            link(source, found.symbol.path, name, weight)
                            break
            for name, count in parse.attributes.items():
                if name.startswith("__"):
                    continue
                weight = _use_weight(name, count)
                if name in BUILTIN_TYPE_ATTRIBUTES:
                    weight *= AMBIGUOUS_ATTRIBUTE_FACTOR  # `x.split()` is most likely a str
                spread(source, name, weight, all_definers.get(name))
        return _Graph(
            files, position, dict(edges), dict(name_edges),
            {k: sorted(v) for k, v in all_definers.items()},
        )  # fmt: skip

    # ------------------------------------------------------------------ ranking

    def rank(self, focus: Focus | None = None) -> Ranking:
        import numpy as np

        focus = focus or Focus()
        graph = self.graph()
        n = len(graph.files)
        if n == 0:
            return Ranking({}, [])
        boost = {name: FOCUS_NAME_BOOST * w for name, w in focus.identifiers.items()}

        # Edge weights, with names in play boosted.
        weights: dict[tuple[int, int], float] = dict(graph.edges)
        for (s, t, name), w in graph.name_edges.items():
            if name in boost:
                weights[(s, t)] += w * (boost[name] - 1)
        forward_out = np.zeros(n)
        for (s, _), w in weights.items():
            forward_out[s] += w
        # The walk also steps from a file to the files that use it (at a discount): the
        # callers and tests of what is in play matter too, not only what it calls.
        walk = dict(weights)
        for (s, t), w in weights.items():
            walk[(t, s)] = walk.get((t, s), 0.0) + REVERSE_FACTOR * w
        src = np.fromiter((k[0] for k in walk), dtype=np.int64, count=len(walk))
        dst = np.fromiter((k[1] for k in walk), dtype=np.int64, count=len(walk))
        val = np.fromiter(walk.values(), dtype=np.float64, count=len(walk))
        out = np.bincount(src, weights=val, minlength=n)
        norm = val / np.where(out[src] > 0, out[src], 1.0)

        personal = np.zeros(n)
        for path, w in focus.files.items():
            if path in graph.position:
                personal[graph.position[path]] += w
        for name, w in focus.identifiers.items():
            where = graph.definers.get(name, [])
            for path in where:
                personal[graph.position[path]] += w / len(where)
        personal = personal / personal.sum() if personal.sum() > 0 else np.full(n, 1.0 / n)

        rank = np.full(n, 1.0 / n)
        dangling = out == 0
        for _ in range(100):
            spread = np.bincount(dst, weights=rank[src] * norm, minlength=n)
            new = DAMPING * spread + (DAMPING * rank[dangling].sum() + 1 - DAMPING) * personal
            if np.abs(new - rank).sum() < 1e-9:
                rank = new
                break
            rank = new

        files = {graph.files[i]: float(rank[i]) for i in range(n)}
        in_play = set(focus.files)
        return Ranking(files, self._rank_definitions(graph, rank, forward_out, boost, in_play))

    def _rank_definitions(self, graph, rank, out, boost, in_play) -> list[RankedDefinition]:
        rank, out = rank.tolist(), out.tolist()  # plain floats: numpy scalars are slow here
        flow: dict[tuple[int, str], float] = defaultdict(float)
        for (s, t, name), w in graph.name_edges.items():
            if out[s]:
                flow[(t, name)] += rank[s] * w * boost.get(name, 1.0) / out[s]
        ranked = []
        for i, path in enumerate(graph.files):
            defs = [(d, d.short) for d in self.index.definitions(path) if _renderable(d)]
            if not defs:
                continue
            # A file's own weight gives every definition in it a floor, so a file in play
            # shows its outline even where nothing else uses it yet.
            floor = rank[i] * (0.5 if path in in_play else 0.02) / math.sqrt(len(defs))
            same_short: dict[str, int] = defaultdict(int)
            for _, short in defs:
                same_short[short] += 1
            for d, short in defs:
                score = flow.get((i, short), 0.0) / same_short[short] + floor
                score *= boost.get(short, 1.0)
                if _private(d.name):
                    score *= PRIVATE_NAME_FACTOR
                ranked.append(RankedDefinition(path, d, score))
        ranked.sort(key=lambda r: (-r.score, r.path, r.definition.line))
        return ranked

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        focus: Focus | None = None,
        budget: int = 1024,
        count_tokens: TokenCounter = estimate_tokens,
    ) -> RenderedMap:
        """The map for `focus` in at most `budget` tokens (as `count_tokens` counts)."""
        focus = focus or Focus()
        ranking = self.rank(focus)
        candidates = [r for r in ranking.definitions if r.path not in focus.exclude]

        def build(k: int) -> tuple[str, list[str], list[str]]:
            return _outline(self.index, candidates[:k], ranking.files)

        lo, hi = 0, len(candidates)
        best = ("", [], [])
        while lo <= hi:  # the largest k whose outline fits
            mid = (lo + hi) // 2
            text, files, shown = build(mid)
            if count_tokens(text) <= budget:
                best, lo = (text, files, shown), mid + 1
            else:
                hi = mid - 1
        text, files, shown = best

        # Fill what is left with further file paths, best ranked first.
        listed = set(files)
        spare = budget - (count_tokens(text) if text else 0)
        extra: list[str] = []
        for path in sorted(ranking.files, key=lambda p: -ranking.files[p]):
            if path in listed or path in focus.exclude:
                continue
            cost = count_tokens(path + "\n")
            if cost > spare:
                break
            extra.append(path)
            spare -= cost
        while extra:
            full = text + "".join(p + "\n" for p in extra)
            if count_tokens(full) <= budget:
                text = full
                break
            extra.pop()
        files = files + extra
        return RenderedMap(text, count_tokens(text) if text else 0, files, shown)


def _import_bindings(
    index: SymbolIndex, resolver, path: str
) -> dict[str, tuple[str | None, str | None]]:
    """Names `path` binds by import → (file, definition short name) in the repository;
    (None, None) for names from outside it; (module file, None) for modules."""
    bound: dict[str, tuple[str | None, str | None]] = {}
    for ref in index.entries[path].symbols.imports:
        if ref.name == "*":
            continue
        module = index.absolute_import(path, ref)
        if ref.name is None:
            target_module = module if ref.alias else module.split(".", 1)[0]
            files = index.files_of_module(module)
            bound[ref.bound] = (files[0] if files else None, None)
            if not index.files_of_module(target_module):
                bound[ref.bound] = (None, None)
            continue
        found = resolver.in_module(module, [ref.name], 0) if index.files_of_module(module) else None
        if found is not None and found.status == "found" and found.symbol is not None:
            sym = found.symbol
            bound[ref.bound] = (sym.path, sym.name.rsplit(".", 1)[-1] if sym.name else None)
        else:
            bound[ref.bound] = (None, None)
    return bound


def _use_weight(name: str, count: int) -> float:
    # sqrt: ten uses of a name are more evidence than one, not ten times as much.
    weight = math.sqrt(count)
    return weight * PRIVATE_NAME_FACTOR if name.startswith("_") else weight


def _private(name: str) -> bool:
    return any(p.startswith("_") and not p.startswith("__") for p in name.split("."))


def _renderable(d: Definition) -> bool:
    if d.kind not in _RENDERED_KINDS:
        return False
    if d.kind == "attribute":
        return not d.signature.startswith("self.")  # class fields only
    if d.kind == "variable":
        return d.short.isupper() or d.short == "__all__"  # module constants
    return True


def _outline(
    index: SymbolIndex, chosen: list[RankedDefinition], file_rank: dict[str, float]
) -> tuple[str, list[str], list[str]]:
    """Chosen definitions grouped by file (best file first), in source order within a
    file; a method or field brings its class's line along for context."""
    if not chosen:
        return "", [], []
    by_file: dict[str, dict[str, Definition]] = defaultdict(dict)
    file_score: dict[str, float] = defaultdict(float)
    for r in chosen:
        by_file[r.path][r.definition.name] = r.definition
        file_score[r.path] = max(file_score[r.path], r.score)
    for path, defs in by_file.items():
        table = index.catalog.defs.get(path, {})
        for name in list(defs):
            parts = name.split(".")
            for cut in range(1, len(parts)):
                parent = ".".join(parts[:cut])
                if parent in table:
                    defs.setdefault(parent, table[parent])
    order = sorted(by_file, key=lambda p: (-file_score[p], -file_rank.get(p, 0.0), p))
    lines: list[str] = []
    shown: list[str] = []
    for path in order:
        lines.append(f"{path}:")
        for d in sorted(by_file[path].values(), key=lambda d: (d.line, d.name)):
            lines.append(_line(d))
            shown.append(f"{path}:{d.name}")
    return "\n".join(lines) + "\n", order, shown


def _line(d: Definition) -> str:
    indent = "  " * d.name.count(".")
    marks = [f"@{x}" for x in d.decorators if x in _SHOWN_DECORATORS]
    head = " ".join([*marks, d.signature or d.name])
    return f"{indent}{d.line}: {head}"
