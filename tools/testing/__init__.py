"""Running a repository's tests: discovery, execution in the sandbox, structured outcomes."""

from tools.testing.discovery import TestPlan, discover_tests
from tools.testing.runner import run_test_suite

__all__ = ["TestPlan", "discover_tests", "run_test_suite"]
