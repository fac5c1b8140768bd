"""LLM backends behind one interface, and the persistent call cache.

What a counterfactual prompt says, its answer schema and how an answer is read belong to the
generator that uses them: :mod:`sensecf.generators.llm`.

Importing this package loads none of llama-cpp-python, openai, torch or transformers; each is
imported when a backend first needs it.
"""

from sensecf.llm.base import ChatRequest, Completion, GenerationParams, LLMBackend, LLMError
from sensecf.llm.cache import CachedBackend, request_key
from sensecf.llm.factory import BACKENDS, make_backend
from sensecf.llm.llama_cpp import LlamaCpp
from sensecf.llm.models import file_digest, packaged_model_path
from sensecf.llm.openai_backend import OpenAICompatible
from sensecf.llm.transformers_backend import Transformers

__all__ = [
    "BACKENDS",
    "CachedBackend",
    "ChatRequest",
    "Completion",
    "GenerationParams",
    "LLMBackend",
    "LLMError",
    "LlamaCpp",
    "OpenAICompatible",
    "Transformers",
    "file_digest",
    "make_backend",
    "packaged_model_path",
    "request_key",
]
