"""Weight-level memory: trajectories, self-edits, LoRA consolidation (EAFT), adapter
store and the gate."""
