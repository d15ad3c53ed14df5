"""The bench's tracks. Each runs alone or with the others and reads back its own results:

- `resolve`: the resolved rate of the agent on the selected tasks;
- `probe`: probe figures on this run's own runs, and the probes-on/off A/B;
- `learn`: learning curves from a stream of training tasks, for four memory arms;
- `forget`: the general coding score before and after consolidation;
- `knowledge`: closed-book questions about the repository.
"""

from __future__ import annotations

from bench.results import BenchRunError
from bench.tracks.base import Track

NAMES = ("resolve", "probe", "learn", "forget", "knowledge")


def get_track(name: str) -> Track:
    if name == "resolve":
        from bench.tracks.resolve import ResolveTrack

        return ResolveTrack()
    if name == "probe":
        from bench.tracks.probe import ProbeTrack

        return ProbeTrack()
    if name == "learn":
        from bench.tracks.learn import LearnTrack

        return LearnTrack()
    if name == "forget":
        from bench.tracks.forget import ForgetTrack

        return ForgetTrack()
    if name == "knowledge":
        from bench.tracks.knowledge import KnowledgeTrack

        return KnowledgeTrack()
    raise BenchRunError(f"unknown track '{name}'; tracks are {', '.join(NAMES)}")
