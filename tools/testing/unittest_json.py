"""Run unittest tests and write one JSON record per test. Shipped into the sandbox.

This file is not imported by engram: its text is copied into the sandbox's /tmp and
run there with the repository's own Python, so it uses the standard library only and
stays compatible with old Pythons (3.6+). Usage:

    python3 unittest_json.py --out OUT.json [--start DIR] [--pattern P] [--top DIR] [NAME ...]

NAME may be a dotted unittest id (`tests.test_x.TestA.test_b`), a file
(`tests/test_x.py`) or a pytest-style id (`tests/test_x.py::TestA::test_b`); names
are resolved relative to the top-level directory. Without names, tests are
discovered from --start. The exit code is 0 when all passed, 1 when any failed,
5 when no test ran (as pytest does).
"""

import argparse
import json
import os
import sys
import time
import traceback
import unittest


def dotted(name, top):
    """A unittest name for a file path or a pytest-style id."""
    path, _, rest = name.partition("::")
    if path.endswith(".py") or os.sep in path or "/" in path:
        full = os.path.abspath(path)
        rel = os.path.relpath(full, top)
        if rel.endswith(".py"):
            rel = rel[:-3]
        module = rel.replace(os.sep, ".").replace("/", ".")
        parts = [module] + [p for p in rest.split("::") if p]
        return ".".join(parts)
    return name


def short(exc_info, test_file_hint=None):
    exc_type, value, tb = exc_info
    lines = traceback.format_exception_only(exc_type, value)
    message = "".join(lines).strip()
    where = ""
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        if "unittest" + os.sep not in frame.filename and "unittest/" not in frame.filename:
            where = f"{os.path.relpath(frame.filename)}:{frame.lineno}"
            break
    if where and not where.startswith(".."):
        message = f"{message} ({where})"
    return message[:2000]


def frames_of(exc_info):
    """The traceback's locations inside the working directory, outermost first."""
    out = []
    for frame in traceback.extract_tb(exc_info[2]):
        rel = os.path.relpath(frame.filename)
        if not rel.startswith("..") and "unittest" + os.sep not in frame.filename:
            out.append(f"{rel}:{frame.lineno}")
    return out[-20:]


class JsonResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = {}
        self.order = []
        self.collection_errors = []
        self._started = {}

    def _record(self, test, status, message="", frames=None):
        test_id = test.id()
        rank = {"passed": 0, "skipped": 1, "xfailed": 1, "xpassed": 1, "failed": 2, "error": 3}
        old = self.records.get(test_id)
        if old is None:
            self.order.append(test_id)
        elif rank[old["status"]] >= rank[status]:
            return
        started = self._started.get(test_id)
        self.records[test_id] = {
            "test_id": test_id,
            "status": status,
            "message": message,
            "duration_s": round(time.time() - started, 4) if started else 0.0,
        }
        if frames:
            self.records[test_id]["frames"] = frames

    def startTest(self, test):
        self._started[test.id()] = time.time()
        super().startTest(test)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failed", short(err), frames_of(err))

    def addError(self, test, err):
        super().addError(test, err)
        name = type(test).__name__
        if name == "_FailedTest":  # discovery could not import a module
            module = getattr(test, "_testMethodName", test.id())
            self.collection_errors.append(
                {"test_id": module, "status": "error", "message": short(err)}
            )
            return
        self._record(test, "error", short(err), frames_of(err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", str(reason)[:500])

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "xfailed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "failed", "unexpected success (the test is marked expectedFailure)")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is None:
            return
        failed = issubclass(err[0], test.failureException)
        detail = subtest._subDescription() if hasattr(subtest, "_subDescription") else ""
        self._record(test, "failed" if failed else "error", (detail + " " + short(err)).strip(),
                     frames_of(err))  # fmt: skip

    def stopTest(self, test):
        super().stopTest(test)
        # A test with only passing subtests never gets addSuccess on old Pythons.
        if test.id() not in self.records and type(test).__name__ != "_FailedTest":
            self._record(test, "passed")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--start", default=".")
    parser.add_argument("--pattern", default="test*.py")
    parser.add_argument("--top", default=None)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args(argv)
    top = os.path.abspath(args.top or args.start)
    # As `python -m unittest` does: the working directory is importable, and the
    # top-level directory of the tests comes first.
    for path in (os.getcwd(), top):
        if path not in sys.path:
            sys.path.insert(0, path)
    loader = unittest.TestLoader()
    missing = []
    if args.names:
        suite = unittest.TestSuite()
        for name in args.names:
            target = dotted(name, top)
            try:
                suite.addTests(loader.loadTestsFromName(target))
            except Exception as exc:  # a name that does not resolve is reported, not fatal
                missing.append(
                    {
                        "test_id": name,
                        "status": "error",
                        "message": f"not found: {type(exc).__name__}: {exc}",
                    }
                )
    else:
        suite = loader.discover(args.start, pattern=args.pattern, top_level_dir=top)
    runner = unittest.TextTestRunner(resultclass=JsonResult, verbosity=1, stream=sys.stderr)
    result = runner.run(suite)
    records = [result.records[i] for i in result.order]
    with open(args.out, "w") as handle:
        json.dump(
            {"tests": records, "collection_errors": result.collection_errors + missing}, handle
        )
    if not records and not result.collection_errors and not missing:
        return 5
    ok = result.wasSuccessful() and not missing and not result.collection_errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
