"""The `engram` command line. Modules here import only typer at load time; each command
imports what it needs when it runs, so `engram --help` stays instant."""
