from agent.cli.progress import _reading_text
from agent.types import Decision, ProbeReading, Step


def step_with(reading: ProbeReading) -> Step:
    return Step(index=0, message="", readings=[reading])


def test_an_unscored_accepted_step_shows_nothing_the_run_already_said():
    reading = ProbeReading(reason="no probe is trained for this model yet")
    assert _reading_text(step_with(reading)) == ""


def test_a_resample_without_scores_says_why():
    reading = ProbeReading(decision=Decision.RESAMPLE, reason="repeats step 2")
    assert _reading_text(step_with(reading)) == "[dim]resample: repeats step 2[/]"


def test_scores_are_shown():
    reading = ProbeReading(step_score=0.25, prefix_score=0.5)
    assert _reading_text(step_with(reading)) == "[dim]probe step 0.25 prefix 0.50[/]"
