"""Grounding: which of the names a text mentions does the repository really have?

`ground(text, index)` extracts mentions (tools.mentions), keeps those that are claims
about the repository, and checks each against the symbol index → `GroundingResult`
with one `NameCheck` per distinct name. Probes use it to label hallucinated steps,
memory to drop notes that name things the repository lacks.

Precision comes first — a false alarm throws away a good step or a true note — so a
name is only reported missing when the index positively shows where it should be and
that it is not there. Not claims, and never reported:

- names of the standard library, builtins, well-known packages and the repository's
  own dependencies (`os.path`, `json.loads`, `pytest.raises`, `len()`);
- names the text defines itself (a function it writes, a file it creates, something
  it says it will add);
- attributes of values whose type is not known statically (`result.items()`), and
  members of classes with a third-party base;
- absolute paths outside the repository.

Not guaranteed: relationships beyond "X is defined in Y" and "method m of class C"
(e.g. "f calls g") are not checked; a name that exists somewhere in the repository
passes even when the text puts it in the wrong context it does not spell out.
"""

from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING

from tools.mentions import Mention, Mentions, extract
from tools.pynames import (
    BUILTIN_NAMES,
    KNOWN_PACKAGES,
    STDLIB_MODULES,
    TECH_WORDS,
    common_external_names,
    inherited_member_names,
)
from tools.resolution import Resolution, Resolver
from tools.types import GroundingResult, NameCheck

if TYPE_CHECKING:  # pragma: no cover
    from tools.catalog import Symbol
    from tools.index import SymbolIndex

_KIND_OF_SYMBOL = {
    "module": "module", "class": "class", "function": "function", "method": "method",
    "variable": "symbol", "attribute": "symbol",
}  # fmt: skip
_CALLABLE_KINDS = ("function", "class", "method")


def ground(text: str, index: SymbolIndex) -> GroundingResult:
    return Grounder(index).check(text)


class Grounder:
    """Checks texts against one index (reuse it: its lookups are built once)."""

    def __init__(self, index: SymbolIndex):
        self.index = index
        self.cat = index.catalog
        self.resolver = Resolver(index)
        self.extensions = frozenset(
            p.rsplit(".", 1)[-1] for p in self.cat.paths if "." in p.rsplit("/", 1)[-1]
        )
        self.module_short: dict[str, list[str]] = {}
        for module in self.cat.module_files:
            self.module_short.setdefault(module.rsplit(".", 1)[-1], []).append(module)

    def check(self, text: str) -> GroundingResult:
        mentions = extract(text, self.extensions)
        checks: dict[str, NameCheck] = {}
        for mention in mentions.items:
            if mention.name in checks:
                continue
            result = self.check_mention(mention, mentions)
            if result is not None:
                checks[result.name] = result
        return GroundingResult(checks=list(checks.values()))

    # ------------------------------------------------------------------ per shape

    def check_mention(self, m: Mention, ms: Mentions) -> NameCheck | None:
        handler = {
            "path": self._path,
            "dotted": self._dotted,
            "call": self._single,
            "class": self._single,
            "identifier": self._single,
            "self_call": self._self_call,
            "import": self._import,
            "from_import": self._from_import,
            "located": self._located,
        }[m.shape]
        return handler(m, ms)

    def _path(self, m: Mention, ms: Mentions) -> NameCheck | None:
        name = m.name
        if name.startswith(("~", "$")) or any(c in name for c in "*?{}<>"):
            return None
        rel = self.index.relative(name)
        if rel is None or rel in (".", ""):
            return None
        if _defined(ms, name, rel, rel.rsplit("/", 1)[-1]):
            return None
        if rel.startswith(("../", ".git/")) or "site-packages/" in rel:
            return None
        hits = self.index.find_paths(rel)
        return NameCheck(
            name=name, kind="path", exists=bool(hits), resolved_to=hits[0] if hits else None
        )

    def _dotted(self, m: Mention, ms: Mentions) -> NameCheck | None:
        parts = m.name.split(".")
        head = parts[0]
        if head in ("self", "cls"):
            return None
        origin = ms.imported.get(head)
        if origin is not None:
            name = ".".join([origin, *parts[1:]])
            parts = name.split(".")
        elif head in ms.defined and not self._repo_head(head):
            # A variable the text binds: checkable only when its type can be read off
            # an annotation or the call that made it.
            return self._typed_variable(m, ms, parts)
        name = ".".join(parts)
        result = self.resolver.dotted(name)
        if result.status == "unknown":
            result = self._short_module(parts)
        if (result.status == "unknown" and origin is None and _class_like(head)
                and len(parts) == 2 and self.cat.by_short.get(parts[1])):  # fmt: skip
            # `Dates.add_months`: a repository function put on a class-like head that is
            # neither the repository's nor anything external (checked the way a bare
            # class name is). Members the repository lacks stay unknown: `HTTPError.code`.
            head_check = self._single(Mention(head, "class", m.code, m.start), ms)
            if head_check is not None and not head_check.exists:
                return NameCheck(name=m.name, kind="class", exists=False)
        if result.status in ("external", "unknown"):
            return None
        if result.status == "missing" and (parts[-1] in ms.defined or result.missing in ms.defined):
            return None  # the text adds it
        return self._from_resolution(m.name, result, m, parts)

    def _typed_variable(self, m: Mention, ms: Mentions, parts: list[str]) -> NameCheck | None:
        source = ms.types.get(parts[0])
        if source is None or len(parts) < 2:
            return None
        cls = self._class_of(source, ms)
        if cls is None:
            return None
        path, definition = cls
        result = self.resolver.member(path, definition, parts[1:], 0)
        if result.status == "missing" and result.missing not in ms.defined:
            return NameCheck(name=m.name, kind="method", exists=False)
        if result.status == "found":
            return self._from_resolution(m.name, result, m, [definition.name, *parts[1:]])
        return None

    def _class_of(self, source: str, ms: Mentions):
        """The repository class an expression evaluates to: `Journal` (a class) or
        `parse_journal()` (a call to a class, or to a function annotated `-> Journal`)."""
        called = source.endswith("()")
        name = source.removesuffix("()")
        head, *rest = name.split(".")
        if head in ms.imported:
            name = ".".join([ms.imported[head], *rest])
        elif head in ms.defined:
            return None  # the text defines it: its return type is not in the index
        result = self.resolver.dotted(name)
        if result.status != "found" or result.symbol is None or result.external:
            return None
        sym = result.symbol
        definition = self.cat.defs.get(sym.path, {}).get(sym.name)
        if definition is None:
            return None
        if definition.kind == "class":
            return sym.path, definition
        if not called or definition.kind not in ("function", "method"):
            return None
        returns = re.search(r"->\s*([A-Za-z_][\w.]*)\s*$", definition.signature)
        if returns is None or sym.module is None:
            return None
        typed = self.resolver.in_file(sym.path, sym.module, returns.group(1).split("."), 0)
        if typed.status == "found" and typed.symbol is not None and typed.symbol.kind == "class":
            target = typed.symbol
            return target.path, self.cat.defs[target.path][target.name]
        return None

    def _repo_head(self, head: str) -> bool:
        return head in self.cat.module_files or any(
            s.name == head for s in self.cat.by_short.get(head, [])
        )

    def _short_module(self, parts: list[str]) -> Resolution:
        """`money.split` — a module by its last name, or a variable named after a class
        (`journal.add` → `Journal.add`). Missing only when every reading lacks it."""
        head, rest = parts[0], parts[1:]
        readings = []
        for module in self.module_short.get(head, []):
            readings.append(self.resolver.in_module(module, rest, 0))
        class_name = "".join(p[:1].upper() + p[1:] for p in head.split("_"))
        if rest and any(s.kind == "class" for s in self.cat.by_short.get(class_name, [])):
            readings.append(self.resolver.dotted(".".join([class_name, *rest])))
        if not readings:
            return Resolution("unknown")
        if any(r.status == "found" for r in readings):
            return next(r for r in readings if r.status == "found")
        has_class = any(s.kind == "class" for s in self.cat.by_short.get(class_name, []))
        if has_class and all(r.status == "missing" for r in readings):
            return readings[-1]
        return Resolution("unknown")

    def _single(self, m: Mention, ms: Mentions) -> NameCheck | None:
        name = m.name
        if name in ms.defined or name in ms.imported or keyword.iskeyword(name):
            return None
        if name in BUILTIN_NAMES and name not in self.cat.by_short:
            return None
        found = self.cat.by_short.get(name, [])
        if found:
            preferred = [s for s in found if s.kind in _CALLABLE_KINDS] if m.called else found
            if m.shape == "class":
                preferred = [s for s in found if s.kind == "class"] or found
            return self._exists(name, (preferred or found)[0])
        if name in self.module_short:
            module = self.module_short[name][0]
            return NameCheck(
                name=name, kind="module", exists=True, resolved_to=self.cat.module_files[module][0]
            )
        if m.shape != "class" and name in self.cat.vocabulary:
            return NameCheck(
                name=name, kind="symbol", exists=True, resolved_to="(used in the repository)"
            )
        if self._external_name(name):
            return None
        if m.shape == "class" or (name[0].isupper() and not name.isupper()):
            kind = "class"
        elif m.called:
            kind = "function"
        else:
            kind = "symbol"
        return NameCheck(name=name, kind=kind, exists=False)

    def _external_name(self, name: str) -> bool:
        return (
            name in self.cat.external_names
            or name in self.cat.external_tops
            or name in common_external_names()
            or name in TECH_WORDS
            or name in KNOWN_PACKAGES
            or name in STDLIB_MODULES
        )

    def _self_call(self, m: Mention, ms: Mentions) -> NameCheck | None:
        name = m.name
        if name in ms.defined or name in inherited_member_names():
            return None
        members = [s for s in self.cat.by_short.get(name, []) if s.kind in ("method", "attribute")]
        if members:
            return self._exists(f"self.{name}", members[0])
        return NameCheck(name=f"self.{name}", kind="method", exists=False)

    def _import(self, m: Mention, ms: Mentions) -> NameCheck | None:
        module = m.name
        top = module.split(".", 1)[0]
        result = self.resolver.dotted(module)
        if result.status == "found":
            return self._from_resolution(module, result, m, module.split("."))
        if top in self.cat.top_names:
            return NameCheck(name=module, kind="module", exists=False)
        if result.status == "external" or self._external_name(top):
            return None
        # A top-level module that is neither the repository's, nor the standard
        # library, nor a dependency the repository declares or imports.
        return NameCheck(name=module, kind="module", exists=False)

    def _from_import(self, m: Mention, ms: Mentions) -> NameCheck | None:
        module = m.context
        if not self.cat.module_files.get(module):
            return None  # the module itself is checked (and reported) as an import
        result = self.resolver.in_module(module, [m.name], 0)
        if result.status in ("external", "unknown"):
            return None
        return self._from_resolution(f"{module}.{m.name}", result, m, [*module.split("."), m.name])

    def _located(self, m: Mention, ms: Mentions) -> NameCheck | None:
        """ "`X` is defined in `Y`": Y must exist and define X itself. A module that only
        imports X does not define it; a package re-exporting X counts (`ledger.Money`)."""
        place, what = m.context, m.name
        if place in ms.defined or what in ms.defined:
            return None
        modules: list[str] = []
        if "/" in place or place.endswith(".py"):
            rel = self.index.relative(place)
            for path in self.index.find_paths(rel) if rel else []:
                module = self.cat.file_module.get(path)
                if module:
                    modules.append(module)
        elif place in self.cat.module_files:
            modules.append(place)
        else:
            modules.extend(self.module_short.get(place, []))
        if not modules:
            return None  # the place itself is checked as its own mention
        label = f"{what} in {place}"
        parts = what.split(".")
        for module in modules:
            result = self.resolver.in_module(module, parts, 0)
            if result.status != "found" or result.symbol is None:
                continue
            files = self.cat.module_files.get(module, [])
            package = any(f.endswith(("__init__.py", "__init__.pyi")) for f in files)
            if result.symbol.path in files or package:
                return self._exists(label, result.symbol)
            return NameCheck(
                name=label, kind=_KIND_OF_SYMBOL.get(result.symbol.kind, "symbol"),
                exists=False, resolved_to=result.symbol.location,
            )  # fmt: skip
        results = [self.resolver.in_module(mod, parts, 0) for mod in modules]
        if all(r.status == "missing" for r in results):
            return self._from_resolution(label, results[0], m, parts)
        return None

    # ------------------------------------------------------------------ results

    def _exists(self, name: str, symbol: Symbol) -> NameCheck:
        return NameCheck(
            name=name, kind=_KIND_OF_SYMBOL.get(symbol.kind, "symbol"), exists=True,
            resolved_to=symbol.location,
        )  # fmt: skip

    def _from_resolution(
        self, name: str, result: Resolution, m: Mention, parts: list[str]
    ) -> NameCheck:
        if result.status == "found":
            if result.symbol is not None and not result.external:
                return self._exists(name, result.symbol)
            kind = "method" if len(parts) > 1 and parts[-2][:1].isupper() else "symbol"
            return NameCheck(name=name, kind=kind, exists=True, resolved_to=result.external)
        return NameCheck(name=name, kind=_missing_kind(result, m, parts), exists=False)


def _defined(ms: Mentions, *names: str) -> bool:
    return any(n in ms.defined for n in names)


def _missing_kind(result: Resolution, m: Mention, parts: list[str]) -> str:
    """What the missing name was meant to be, from where the lookup stopped."""
    if m.shape == "import":
        return "module"
    missing = result.missing or parts[-1]
    parent = result.symbol
    last = missing == parts[-1]
    if parent is not None and parent.kind == "class":
        return "method"
    if not last:
        return "module"  # `ledger.utils.x`: `utils` is where a module would be
    if missing[:1].isupper():
        return "class"
    if m.called or m.shape in ("call", "from_import"):
        return "function"
    if (
        parent is not None
        and parent.kind == "module"
        and parent.path.endswith(("__init__.py", "__init__.pyi"))
        and m.shape == "dotted"
    ):
        return "module"  # `pkg.utils`: a lowercase name under a package reads as a module
    return "symbol"


def _class_like(name: str) -> bool:
    return name[:1].isupper() and not name.isupper()
