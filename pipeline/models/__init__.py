"""Model backends behind one protocol: transformers (embedded), ollama, openai-compatible."""
from .base import Completion, Message, TextModel

__all__ = ["Completion", "Message", "TextModel"]
