"""The chat template a GGUF carries, rendered as transformers renders it, so every backend that formats prompts
itself shows the model the very text it was trained on."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

from ..errors import ModelUnavailable
from .base import Message


@dataclass(frozen=True)
class ChatTemplate:
    source: str
    bos_token: str = ""
    eos_token: str = ""

    @classmethod
    def from_gguf_metadata(cls, metadata: Mapping[str, str]) -> "ChatTemplate":
        """The template of a GGUF's metadata (`tokenizer.chat_template`)."""
        source = metadata.get("tokenizer.chat_template")
        if not source:
            raise ModelUnavailable("local", "gguf", "the model file carries no chat template")
        return cls(source)

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = True) -> str:
        """The prompt text for `messages`, ending with the assistant turn opener."""
        return _compiled(self.source).render(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=add_generation_prompt, bos_token=self.bos_token, eos_token=self.eos_token)


@lru_cache(maxsize=8)
def _compiled(source: str):
    # The same environment transformers compiles chat templates in (trim_blocks, lstrip_blocks, sandboxed).
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise ModelUnavailable("local", "chat template", message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(source)
