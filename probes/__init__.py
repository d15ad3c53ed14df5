"""Hallucination probes on hidden states, and the decisions they drive.

features (pooling a step's hidden states) → labels (from the repository) → step probe
and prefix integrator (logistic heads) → calibration (thresholds for a target false-
alarm rate) → store (safetensors + JSON per base model) → `ProbeMonitor` (the graph's
`agent.monitor.Monitor`). Importing this package loads nothing heavy: numpy comes in
with the modules that compute, torch only with the teacher.
"""
