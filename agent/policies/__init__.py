"""Policies: how the next step is proposed (prompt, generation, parsing). The graph, the
monitor, the tools, snapshots and checkpoints are the same whatever the policy."""
