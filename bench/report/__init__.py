"""Reports of bench runs: report.json, report.md and PNG plots, from stored results."""
