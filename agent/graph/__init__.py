"""The LangGraph agent: state, runtime context, nodes and the compiled graph.

START → call_model → monitor ─┬─ accept → act → call_model …
                              ├─ resample → call_model
                              ├─ rollback → call_model
                              └─ finish → verify → END
"""
