"""A scripted LLM backend for the generator tests: a real :class:`LLMBackend` that answers by a
rule (copy an example, repeat the current values, write garbage), and helpers that read the
prompt it was sent."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from sensecf.llm.base import ChatRequest, Completion, LLMBackend

Policy = Callable[[ChatRequest, int], str]


class Scripted(LLMBackend):
    """Answers each request by ``policy(request, n)`` (n: how many calls came before)."""

    name = "scripted"
    supports_schema = True
    concurrency = 8  # stands in for a server: each round goes out for all queries at once

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.requests: list[ChatRequest] = []
        self.batches: list[int] = []

    def complete_many(
        self, requests: Sequence[ChatRequest], *, on_result=None
    ) -> list[Completion | Exception]:
        self.batches.append(len(requests))
        return super().complete_many(requests, on_result=on_result)

    def _complete(self, request: ChatRequest) -> Completion:
        n = len(self.requests)
        self.requests.append(request)
        text = self.policy(request, n)
        return Completion(text, prompt_tokens=100 + n, completion_tokens=10)


def user_text(request: ChatRequest) -> str:
    return request.messages[-1]["content"]


def example(request: ChatRequest, label: str = "A") -> str:
    match = re.search(rf"^Person {label}(?: after)?: (\{{.*\}})$", user_text(request), re.M)
    assert match, "the prompt shows no such example"
    return match.group(1)


def current(request: ChatRequest) -> str:
    """The current values the prompt states (``name value, ...``), as a JSON answer."""
    match = re.search(r"^Now: (.*)$", user_text(request), re.M)
    assert match
    values = {}
    for pair in match.group(1).split(", "):
        name, value = pair.split(" ", 2)[:2]
        values[name] = json.loads(value)
    return json.dumps(values)


def copy_first(request: ChatRequest, n: int) -> str:
    return example(request)


def stubborn_then_copy(request: ChatRequest, n: int) -> str:
    """Repeats the current values until the prompt carries feedback, then copies an example."""
    return example(request) if "did not work" in user_text(request) else current(request)
