"""Hierarchical account names (``expenses:food:groceries``) and account trees."""

from __future__ import annotations

from collections.abc import Iterator

from .errors import InvalidAccountName, UnknownAccount
from .money import Money

SEPARATOR = ":"

#: The five top-level account types of double-entry bookkeeping.
ROOT_TYPES = ("assets", "liabilities", "equity", "income", "expenses")


def split_name(name: str) -> list[str]:
    """Split an account name into its segments, validating each one."""
    parts = name.split(SEPARATOR)
    for part in parts:
        if not part or part != part.strip():
            raise InvalidAccountName(f"invalid account name {name!r}")
    return parts


def depth(name: str) -> int:
    """Number of segments: ``assets`` is 1, ``assets:bank`` is 2."""
    return len(split_name(name))


def parent_name(name: str) -> str | None:
    """Name of the parent account, or ``None`` for a top-level account."""
    parts = split_name(name)
    if len(parts) == 1:
        return None
    return SEPARATOR.join(parts[:-1])


def ancestors(name: str) -> list[str]:
    """All ancestors of *name*, from the top-level account downwards."""
    parts = split_name(name)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


def truncate(name: str, max_depth: int) -> str:
    """Cut *name* down to at most *max_depth* segments."""
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    return SEPARATOR.join(split_name(name)[:max_depth])


def is_under(name: str, ancestor: str) -> bool:
    """True when *name* is *ancestor* itself or one of its descendants."""
    return name == ancestor or name.startswith(ancestor + SEPARATOR)


def root_type(name: str) -> str:
    """The top-level segment, checked against :data:`ROOT_TYPES`."""
    root = split_name(name)[0]
    if root not in ROOT_TYPES:
        raise InvalidAccountName(f"{name!r} is not under one of {', '.join(ROOT_TYPES)}")
    return root


def add_into(totals: dict[str, Money], amount: Money) -> None:
    """Add *amount* into a per-currency dictionary of totals."""
    current = totals.get(amount.currency)
    totals[amount.currency] = amount if current is None else current + amount


class Account:
    """One node of an :class:`AccountTree` with its own per-currency balance."""

    def __init__(self, name: str, parent: Account | None = None) -> None:
        split_name(name)
        self.name = name
        self.parent = parent
        self.children: dict[str, Account] = {}
        self.balance: dict[str, Money] = {}

    def __repr__(self) -> str:
        return f"Account({self.name!r})"

    @property
    def leaf(self) -> str:
        """The last segment of the name (``groceries``)."""
        return self.name.rsplit(SEPARATOR, 1)[-1]

    @property
    def depth(self) -> int:
        """Depth of the account; top-level accounts have depth 1."""
        return depth(self.name)

    def post(self, amount: Money) -> None:
        """Add *amount* to this account's own balance."""
        add_into(self.balance, amount)

    def total(self) -> dict[str, Money]:
        """Own balance plus the totals of all descendants, per currency."""
        totals = dict(self.balance)
        for child in self.children.values():
            for amount in child.total().values():
                add_into(totals, amount)
        return totals

    def walk(self) -> Iterator[Account]:
        """Yield this account and then its descendants, sorted by name."""
        yield self
        for key in sorted(self.children):
            yield from self.children[key].walk()


class AccountTree:
    """A forest of accounts keyed by full name; parents are created on demand."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}
        self.roots: dict[str, Account] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._accounts

    def __len__(self) -> int:
        return len(self._accounts)

    def add(self, name: str) -> Account:
        """Return the account *name*, creating it and its ancestors if needed."""
        existing = self._accounts.get(name)
        if existing is not None:
            return existing
        parent_key = parent_name(name)
        parent = self.add(parent_key) if parent_key is not None else None
        account = Account(name, parent)
        self._accounts[name] = account
        if parent is None:
            self.roots[name] = account
        else:
            parent.children[account.leaf] = account
        return account

    def get(self, name: str) -> Account:
        """Look up an existing account or raise :class:`UnknownAccount`."""
        try:
            return self._accounts[name]
        except KeyError:
            raise UnknownAccount(f"no account named {name!r}") from None

    def post(self, name: str, amount: Money) -> None:
        """Post *amount* to account *name*, creating it if necessary."""
        self.add(name).post(amount)

    def children_of(self, name: str) -> list[str]:
        """Full names of the direct children of *name*, sorted."""
        account = self.get(name)
        return [account.children[key].name for key in sorted(account.children)]

    def walk(self) -> Iterator[Account]:
        """Yield every account depth-first in name order."""
        for key in sorted(self.roots):
            yield from self.roots[key].walk()

    def balances(self, max_depth: int | None = None) -> dict[str, dict[str, Money]]:
        """Rolled-up totals of every account up to *max_depth* levels deep."""
        return {
            account.name: account.total()
            for account in self.walk()
            if max_depth is None or account.depth <= max_depth
        }
