"""Best-of-k: sample configs, stopping at the first verified sample, the winner."""

from __future__ import annotations

from agent.config import EngramConfig
from agent.explore import EXPLORE_TEMPERATURE, explore, sample_config
from agent.types import Task, Trajectory, Verification


def _trajectory(run_id: str, passed: bool | None) -> Trajectory:
    verification = None if passed is None else Verification(passed=passed, command="pytest")
    return Trajectory(run_id=run_id, task=Task(id="t", repo="r", problem_statement="p"),
                      repo_id="r", model_id="m", backend="fake", verification=verification)  # fmt: skip


def test_sample_zero_is_the_configured_run_and_the_others_explore():
    config = EngramConfig.model_validate({"model": {"seed": 5, "temperature": 0.0}})
    assert sample_config(config, 0) is config
    hot = sample_config(config, 2)
    assert hot.model.seed == 7 and hot.model.temperature == EXPLORE_TEMPERATURE
    warmer = EngramConfig.model_validate({"model": {"temperature": 0.9}})
    assert sample_config(warmer, 1).model.temperature == 0.9  # never cooler than configured
    assert config.model.seed == 5  # the caller's config is left alone


def test_sampling_stops_at_the_first_verified_sample():
    outcomes = [False, None, True, True]
    seen: list[tuple[int, float]] = []

    def run(i, cfg):
        seen.append((i, cfg.model.temperature))
        return _trajectory(f"r{i}", outcomes[i])

    found = explore(4, EngramConfig(), run)
    assert [i for i, _ in seen] == [0, 1, 2]
    assert found.winner is not None and found.winner.run_id == "r2"
    assert found.verified_count == 1


def test_without_a_verified_sample_the_last_one_is_shown_and_all_k_ran():
    found = explore(3, EngramConfig(), lambda i, cfg: _trajectory(f"r{i}", False))
    assert len(found.samples) == 3 and found.winner.run_id == "r2"
    every = explore(3, EngramConfig(), lambda i, cfg: _trajectory(f"r{i}", True),
                    stop_when_verified=False)  # fmt: skip
    assert every.verified_count == 3 and every.winner.run_id == "r0"
