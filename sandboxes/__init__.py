"""Where the agent's commands run: the Sandbox protocol, Docker and local implementations,
image builds, git workspaces and snapshots. The bottom layer: imports nothing of engram's."""
