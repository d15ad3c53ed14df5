"""Chat examples → token ids + labels, with the loss on assistant tokens only.

The example is rendered with the model's own chat template. To find which tokens are
the assistant's, each assistant turn's character span is located by rendering the
conversation up to that turn twice — with the generation prompt (where the turn
starts) and with the turn (where it ends) — and tokens are labelled by their character
offsets. This needs a *prefix-stable* template (rendering a prefix of the conversation
gives a prefix of the full text); we check that and refuse templates that are not,
rather than mask the wrong tokens. Template glue after the turn's end token (Qwen's
trailing newline) is not trained on; the end token is, so the model learns to stop.

Truncation to `max_length` keeps whole assistant turns: the sequence is cut after the
last turn that fits. Only when not even the first turn fits is a turn cut in the
middle, and the result says so (`cut_inside_assistant`). An example whose prompt alone
is longer than `max_length` keeps no target tokens (`n_targets == 0`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.types import ChatMessage

IGNORE = -100


class EncodingError(ValueError):
    """The example cannot be encoded faithfully (template not prefix-stable, …)."""

    user_facing = True


@dataclass
class EncodedExample:
    input_ids: list[int]
    labels: list[int]  # IGNORE where no loss is taken
    assistant_turns: int
    kept_turns: int  # assistant turns kept whole after truncation
    original_length: int
    truncated: bool = False
    cut_inside_assistant: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def n_targets(self) -> int:
        # labels[0] never counts: there is no prediction for the first token.
        return sum(1 for label in self.labels[1:] if label != IGNORE)


def template_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """ChatMessage → the dicts HF chat templates read (tool calls in OpenAI's shape)."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        item: dict[str, Any] = {"role": msg.role, "content": msg.content}
        if msg.tool_calls:
            item["tool_calls"] = [
                {
                    "type": "function",
                    "id": call.id,
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in msg.tool_calls
            ]
        if msg.tool_call_id:
            item["tool_call_id"] = msg.tool_call_id
        if msg.name:
            item["name"] = msg.name
        out.append(item)
    return out


def render(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    add_generation_prompt: bool = False,
    tools: list[dict[str, Any]] | None = None,
) -> str:
    return tokenizer.apply_chat_template(
        messages, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def assistant_char_spans(
    tokenizer: Any, messages: list[ChatMessage], tools: list[dict[str, Any]] | None = None
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the [start, end) character span of every assistant turn."""
    dicts = template_messages(messages)
    full = render(tokenizer, dicts, tools=tools)
    spans: list[tuple[int, int]] = []
    for i, msg in enumerate(messages):
        if msg.role != "assistant":
            continue
        try:
            before = render(tokenizer, dicts[:i], add_generation_prompt=True, tools=tools)
            through = render(tokenizer, dicts[: i + 1], tools=tools)
        except Exception as exc:  # jinja errors: e.g. a template that needs a user turn first
            raise EncodingError(f"cannot render the conversation up to turn {i}: {exc}") from exc
        if not (full.startswith(through) and through.startswith(before)):
            raise EncodingError(
                "the chat template is not prefix-stable (rendering the conversation up to "
                f"turn {i} is not a prefix of the whole), so assistant tokens cannot be "
                "located; use a model whose template renders turns independently"
            )
        end = len(through.rstrip())
        if end > len(before):
            spans.append((len(before), end))
    return full, spans


def encode_chat(
    tokenizer: Any,
    messages: list[ChatMessage],
    max_length: int,
    tools: list[dict[str, Any]] | None = None,
) -> EncodedExample:
    if max_length < 2:
        raise ValueError("max_length must be at least 2")
    text, char_spans = assistant_char_spans(tokenizer, messages, tools)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    labels = [IGNORE] * len(ids)
    token_spans: list[tuple[int, int]] = []
    for start_c, end_c in char_spans:
        inside = [i for i, (s, e) in enumerate(offsets) if s < end_c and e > start_c]
        if not inside:
            continue
        for i in inside:
            labels[i] = ids[i]
        token_spans.append((inside[0], inside[-1] + 1))
    example = EncodedExample(
        input_ids=ids,
        labels=labels,
        assistant_turns=len(token_spans),
        kept_turns=len(token_spans),
        original_length=len(ids),
    )
    if len(ids) <= max_length:
        return example
    return _truncate(example, token_spans, max_length)


def _truncate(
    example: EncodedExample, token_spans: list[tuple[int, int]], max_length: int
) -> EncodedExample:
    whole = [end for _, end in token_spans if end <= max_length]
    example.truncated = True
    if whole:
        cut = whole[-1]
        example.kept_turns = len(whole)
        dropped = len(token_spans) - len(whole)
        example.notes.append(
            f"{example.original_length} tokens > max_length {max_length}: cut after assistant "
            f"turn {len(whole)}; {dropped} later assistant turn(s) dropped"
        )
    else:
        cut = max_length
        example.kept_turns = 0
        first_start = token_spans[0][0] if token_spans else None
        if first_start is not None and first_start < max_length:
            example.cut_inside_assistant = True
            example.notes.append(
                f"{example.original_length} tokens > max_length {max_length}: the first "
                f"assistant turn does not fit and is cut after {max_length - first_start} "
                "of its tokens"
            )
        else:
            example.notes.append(
                f"the prompt before the first assistant turn is longer than max_length "
                f"{max_length}: nothing left to learn from"
            )
    example.input_ids = example.input_ids[:cut]
    example.labels = example.labels[:cut]
    return example
