"""The persistent LLM answer cache, with a scripted in-memory backend."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, Completion, GenerationParams, LLMBackend, LLMError
from sensecf.llm.cache import CachedBackend

SCHEMA = {"type": "object", "properties": {"x": {"enum": [1, 2]}}}


class Scripted(LLMBackend):
    """Answers with the last message and the seed; counts calls; can fail on given texts."""

    name = "scripted"

    def __init__(self, model: str = "m1", fail_on: Sequence[str] = (), crash_on: str = "") -> None:
        self.model = model
        self.fail_on = set(fail_on)
        self.crash_on = crash_on
        self.seen: list[str] = []
        self.closed = 0
        self._lock = threading.Lock()

    def identity(self) -> dict[str, object]:
        return {"backend": self.name, "model": self.model}

    def _complete(self, request: ChatRequest) -> Completion:
        content = request.messages[-1]["content"]
        with self._lock:
            self.seen.append(content)
        if content == self.crash_on:
            raise KeyboardInterrupt  # a run killed mid-batch
        if content in self.fail_on:
            raise LLMError(f"no answer for {content}")
        return Completion(f"{content}/{request.params.seed}", 3, 2, 0.5)

    def close(self) -> None:
        self.closed += 1


def ask(text: str, **params: object) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": text}], params=GenerationParams(**params))  # type: ignore[arg-type]


def test_second_identical_call_makes_no_backend_call(tmp_path: Path) -> None:
    backend = Scripted()
    cache = CachedBackend(backend, tmp_path / "c.sqlite")
    first = cache.complete([{"role": "user", "content": "a"}])
    second = cache.complete([{"role": "user", "content": "a"}])
    assert backend.seen == ["a"]
    assert (cache.calls, cache.hits) == (1, 1)
    assert not first.cached and second.cached
    assert (second.text, second.prompt_tokens, second.completion_tokens, second.seconds) == (
        "a/0",
        3,
        2,
        0.5,
    )
    assert cache.stats() == {
        "calls": 1,
        "hits": 1,
        "entries": 1,
        "path": str(tmp_path / "c.sqlite"),
    }


def test_params_schema_and_identity_are_part_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    backend = Scripted()
    cache = CachedBackend(backend, path)
    msgs = [{"role": "user", "content": "a"}]
    cache.complete(msgs)
    cache.complete(msgs, params=GenerationParams(seed=1))
    cache.complete(msgs, params=GenerationParams(temperature=0.7))
    cache.complete(msgs, schema=SCHEMA)
    cache.complete(msgs, params=GenerationParams(temperature=0.7))  # same seed: a hit
    assert (cache.calls, cache.hits) == (4, 1)
    other = CachedBackend(Scripted(model="m2"), path)
    other.complete(msgs)
    assert (other.calls, other.hits) == (1, 0)
    assert cache.identity() == backend.identity()
    assert cache.name == "scripted"


def test_an_interrupted_batch_keeps_its_answers_and_a_rerun_asks_only_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"
    requests = [ask(f"q{i}") for i in range(6)]
    killed = CachedBackend(Scripted(crash_on="q3"), path)
    with pytest.raises(KeyboardInterrupt):
        killed.complete_many(requests)
    killed.close()

    backend = Scripted()
    rerun = CachedBackend(backend, path)
    results = rerun.complete_many(requests)
    assert backend.seen == ["q3", "q4", "q5"]
    assert [r.text for r in results] == [f"q{i}/0" for i in range(6)]  # type: ignore[union-attr]
    assert [r.cached for r in results] == [True] * 3 + [False] * 3  # type: ignore[union-attr]
    assert (rerun.calls, rerun.hits) == (3, 3)


def test_failures_are_not_cached_and_are_asked_again(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    requests = [ask("a"), ask("b"), ask("c")]
    first = CachedBackend(Scripted(fail_on=["b"]), path).complete_many(requests)
    assert isinstance(first[1], LLMError) and not isinstance(first[0], Exception)
    backend = Scripted()
    second = CachedBackend(backend, path).complete_many(requests)
    assert backend.seen == ["b"]
    assert [r.text for r in second] == ["a/0", "b/0", "c/0"]  # type: ignore[union-attr]


def test_duplicates_in_a_batch_make_one_call(tmp_path: Path) -> None:
    backend = Scripted()
    cache = CachedBackend(backend, tmp_path / "c.sqlite")
    results = cache.complete_many([ask("a"), ask("b"), ask("a")])
    assert backend.seen == ["a", "b"]
    assert [r.text for r in results] == ["a/0", "b/0", "a/0"]  # type: ignore[union-attr]


def test_on_result_hears_every_slot(tmp_path: Path) -> None:
    cache = CachedBackend(Scripted(), tmp_path / "c.sqlite")
    cache.complete(ask("a").messages)
    heard: dict[int, str] = {}
    cache.complete_many(
        [ask("a"), ask("b")],
        on_result=lambda i, r: heard.__setitem__(i, r.text),  # type: ignore[union-attr]
    )
    assert heard == {0: "a/0", 1: "b/0"}


def test_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.sqlite"
    with CachedBackend(Scripted(), path) as cache:
        cache.complete_many([ask("a"), ask("b")])
    backend = Scripted()
    with CachedBackend(backend, path) as again:
        again.complete_many([ask("a"), ask("b")])
        assert backend.seen == [] and again.stats()["entries"] == 2
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_complete_many(tmp_path: Path) -> None:
    backend = Scripted()
    cache = CachedBackend(backend, tmp_path / "c.sqlite")
    requests = [ask(f"q{i % 10}") for i in range(40)]
    outputs: list[list[Completion | Exception]] = []
    lock = threading.Lock()

    def run() -> None:
        out = cache.complete_many(requests)
        with lock:
            outputs.append(out)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outputs) == 6
    for out in outputs:
        assert [r.text for r in out] == [f"q{i % 10}/0" for i in range(40)]  # type: ignore[union-attr]
    assert cache.stats()["entries"] == 10
    assert 10 <= len(backend.seen) <= 60  # races may ask twice; never lose an answer


def test_close_closes_the_backend_and_is_idempotent(tmp_path: Path) -> None:
    backend = Scripted()
    cache = CachedBackend(backend, tmp_path / "c.sqlite")
    cache.close()
    cache.close()
    assert backend.closed == 2
    with pytest.raises(SensecfError, match="closed"):
        cache.complete(ask("a").messages)


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database, just some text " * 50)
    with pytest.raises(SensecfError, match="c.sqlite"):
        CachedBackend(Scripted(), path)


def test_a_backend_without_on_result_still_gets_cached(tmp_path: Path) -> None:
    class Old(Scripted):
        def complete_many(self, requests: Sequence[ChatRequest]) -> list[Completion | Exception]:  # type: ignore[override]
            return [self._complete(r) for r in requests]

    backend = Old()
    cache = CachedBackend(backend, tmp_path / "c.sqlite")
    cache.complete_many([ask("a")])
    cache.complete_many([ask("a")])
    assert backend.seen == ["a"]
