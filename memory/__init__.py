"""Weight-level memory: trajectories, self-edits, LoRA consolidation (EAFT), per-repo
adapter versions and the gate.

Modules load nothing heavy on import; torch, transformers and peft are imported inside
the functions that need them.
"""
