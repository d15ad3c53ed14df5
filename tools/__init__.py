"""The agent-computer interface: tools that act through a Sandbox, the repo map, and
grounding (which names in a text exist in the repository)."""
