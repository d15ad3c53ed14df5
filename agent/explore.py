"""Best-of-k exploration: up to k independent runs of one task, each from the task's
base commit in its own workspace (so its own sandbox and snapshots), with its own seed.

Sample 0 is the configured run as it is (greedy by default), so best-of-1 is exactly a
plain run and pass@1 can be read off sample 0 of any best-of-k. Samples 1… run at
`EXPLORE_TEMPERATURE` (or the configured temperature if that is higher) with seed
`seed + i`, which also makes the small policy sample its candidate pick (see
`agent.policies.small.choose`) instead of always taking the top one.

At test time the first sample whose own verification passes wins and sampling stops.
At learning time nothing extra is needed: every sample is a stored run, and each one
that verified is eligible for learning (rejection sampling, as in ReST / SEAL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.config import EngramConfig
from agent.types import Trajectory

EXPLORE_TEMPERATURE = 0.7


def sample_config(config: EngramConfig, index: int) -> EngramConfig:
    """The config of sample `index` (0: unchanged)."""
    if index == 0:
        return config
    model = config.model.model_copy(update={
        "temperature": max(config.model.temperature, EXPLORE_TEMPERATURE),
        "seed": config.model.seed + index,
    })  # fmt: skip
    return config.model_copy(update={"model": model})


def verified(trajectory: Trajectory) -> bool:
    return bool(trajectory.verification and trajectory.verification.passed)


@dataclass
class Exploration:
    samples: list[Trajectory] = field(default_factory=list)

    @property
    def winner(self) -> Trajectory | None:
        """The first verified sample; else the last one run (what the user is shown)."""
        for trajectory in self.samples:
            if verified(trajectory):
                return trajectory
        return self.samples[-1] if self.samples else None

    @property
    def verified_count(self) -> int:
        return sum(verified(t) for t in self.samples)


def explore(
    k: int,
    config: EngramConfig,
    run_sample: Callable[[int, EngramConfig], Trajectory],
    stop_when_verified: bool = True,
    on_sample: Callable[[int, Trajectory], None] = lambda i, t: None,
) -> Exploration:
    """Run up to `k` samples with `run_sample(i, sample_config(config, i))`."""
    if k < 1:
        raise ValueError("best-of-k needs k >= 1")
    result = Exploration()
    for index in range(k):
        trajectory = run_sample(index, sample_config(config, index))
        result.samples.append(trajectory)
        on_sample(index, trajectory)
        if stop_when_verified and verified(trajectory):
            break
    return result
