"""A model's Jinja chat template rendered the way transformers renders it.

The `llamacpp` backend reads the template from the GGUF (`tokenizer.chat_template`) and
must produce the very prompt the `hf` backend gets from `apply_chat_template`, token for
token (tested against it). So the environment matches transformers': a sandboxed Jinja
environment with `trim_blocks` and `lstrip_blocks`, the `loopcontrols` extension, a
`tojson` filter that does not escape HTML (Jinja's own turns `<` into `\\u003c`), and
`raise_exception` / `strftime_now` as globals. Templates are untrusted text: the sandbox
keeps them from reaching Python internals.

Not supported: transformers' `{% generation %}` tag (assistant-token masks; training
code uses the `hf` backend) and multimodal content.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: Any = None, sort_keys: bool = False) -> str:  # fmt: skip
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)  # fmt: skip


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render_chat(
    template: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    **special_tokens: str,
) -> str:
    """The prompt text for `messages` (OpenAI-style dicts) and `tools` (OpenAI tool schemas).

    `special_tokens` (bos_token, eos_token, …) are visible to the template, as
    transformers passes its tokenizer's special tokens.
    """
    return _compile(template).render(
        messages=messages, tools=tools, documents=None,
        add_generation_prompt=add_generation_prompt, **special_tokens,
    )  # fmt: skip
