"""Assemble the graph. Nodes and routes are in nodes.py; this file is only the wiring."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.graph import nodes
from agent.graph.context import RunContext
from agent.graph.state import AgentState


def build_graph(checkpointer: Any | None = None):
    graph = StateGraph(AgentState, context_schema=RunContext)
    graph.add_node("call_model", nodes.call_model)
    graph.add_node("monitor", nodes.monitor)
    graph.add_node("act", nodes.act)
    graph.add_node("resample", nodes.resample)
    graph.add_node("rollback", nodes.rollback)
    graph.add_node("verify", nodes.verify)
    graph.add_edge(START, "call_model")
    graph.add_conditional_edges("call_model", nodes.route_after_call, ["monitor", "verify"])
    graph.add_conditional_edges(
        "monitor", nodes.route_after_monitor, ["act", "resample", "rollback", "verify"]
    )
    graph.add_conditional_edges("act", nodes.route_after_act, ["call_model", "verify"])
    graph.add_edge("resample", "call_model")
    graph.add_edge("rollback", "call_model")
    graph.add_edge("verify", END)
    return graph.compile(checkpointer=checkpointer)
