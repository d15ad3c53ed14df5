"""`engram bench`: task sources, bug injection, grading (runner, tracks and reports build on these).

- `tasks`: SWE-bench's instance schema (load/save JSON and JSONL, convert to `agent.types.Task`).
- `repos`: where a task's repository comes from (bundled example, PyPI sdist, local path)
  and the bench store that makes every `base_commit` resolve on any machine.
- `mutation`: AST mutation operators; `generator`: validated bug-injection tasks.
- `grading`: apply a patch to a task's base commit in a fresh sandbox and run its tests.
- `splits`: train/test and held-out-kind groups.
"""
