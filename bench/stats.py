"""Small statistics for reports: rates with Wilson intervals, medians, paired counts.

Benchmarks here are small (tens of tasks), so every rate is reported with its 95 %
Wilson score interval — unlike the normal approximation it stays inside [0, 1] and is
honest at 0/n and n/n.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

Z95 = 1.959963984540054


class Rate(BaseModel):
    """k successes out of n, with a 95 % Wilson interval (None where n == 0)."""

    model_config = ConfigDict(extra="forbid")

    k: int
    n: int
    rate: float | None
    low: float | None
    high: float | None

    def text(self, digits: int = 0) -> str:
        if self.n == 0 or self.rate is None:
            return "– (0 tasks)"
        pct = f"{{:.{digits}f}}"
        return (f"{pct.format(100 * self.rate)} % ({self.k}/{self.n}; 95 % CI "
                f"{pct.format(100 * (self.low or 0))}–{pct.format(100 * (self.high or 0))})")  # fmt: skip


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for k of n (n > 0)."""
    if n <= 0:
        raise ValueError("the Wilson interval needs n > 0")
    if not 0 <= k <= n:
        raise ValueError(f"k = {k} is not within 0..{n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp float noise at the ends (k = 0 or k = n must touch 0 or 1 exactly).
    return max(0.0, centre - half) if k else 0.0, min(1.0, centre + half) if k < n else 1.0


def rate(k: int, n: int) -> Rate:
    if n == 0:
        return Rate(k=0, n=0, rate=None, low=None, high=None)
    low, high = wilson(k, n)
    return Rate(k=k, n=n, rate=k / n, low=low, high=high)


def median(values: Iterable[float]) -> float | None:
    data = sorted(values)
    if not data:
        return None
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


class Paired(BaseModel):
    """Two arms on the same tasks: how many each resolved alone (McNemar's discordant pairs)."""

    model_config = ConfigDict(extra="forbid")

    tasks: int
    both: int
    only_a: int
    only_b: int
    neither: int
    p_value: float | None  # exact two-sided McNemar (binomial on the discordant pairs)


def paired(a: dict[str, bool], b: dict[str, bool]) -> Paired:
    """Compare two arms over the tasks both have a result for."""
    common = sorted(set(a) & set(b))
    both = sum(a[t] and b[t] for t in common)
    only_a = sum(a[t] and not b[t] for t in common)
    only_b = sum(b[t] and not a[t] for t in common)
    return Paired(tasks=len(common), both=both, only_a=only_a, only_b=only_b,
                  neither=len(common) - both - only_a - only_b,
                  p_value=mcnemar_exact(only_a, only_b))  # fmt: skip


def mcnemar_exact(b: int, c: int) -> float | None:
    """Two-sided exact McNemar test: P(a split at least this uneven | fair coin)."""
    n = b + c
    if n == 0:
        return None
    tail = sum(math.comb(n, i) for i in range(0, min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)
