"""Model backends behind one protocol (base.py: TextModel): transformers (embedded, bundled.py finds the shipped
GGUF), ollama and openai-compatible. May import pipeline.errors and the model libraries; nothing else of askdb's."""
from .base import Completion, Message, TextModel

__all__ = ["Completion", "Message", "TextModel"]
