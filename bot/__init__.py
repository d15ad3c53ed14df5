"""engram's GitHub bot: issues in, draft pull requests out, merged pull requests learned from.

Two ways to run it share one code path: `engram bot action` (a GitHub Actions job) and
`engram bot serve` + `engram bot worker` (a webhook server feeding a durable SQLite queue,
drained by workers). See docs/bot.md.
"""
