"""engram's agent: the LangGraph graph, LLM backends, prompts, config and CLI.

Importing this package is cheap: torch, transformers and LangGraph load lazily.
"""

__version__ = "0.1.0"
