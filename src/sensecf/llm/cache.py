"""A persistent answer cache in front of any backend: reruns make no new calls.

Every request is keyed by the SHA-256 of canonical JSON of the backend's ``identity()`` (backend,
model, adapter, ...), the generation parameters, the messages and the schema. An answer is
written to SQLite as soon as it arrives, so a run killed half-way resumes where it stopped;
failed requests are not stored and are asked again on the next run.

Answers at temperature > 0 are cached too: the seed is one of the parameters, so the same seed
gives the same key and a rerun is free and reproducible. To draw several samples for one
query, vary ``params.seed``.

A cached :class:`~sensecf.llm.base.Completion` carries the token counts and seconds of the
call that produced it, with ``cached=True``, so cost figures read the same on a rerun.

>>> import tempfile, pathlib
>>> from sensecf.llm.base import LLMBackend, Completion
>>> class Echo(LLMBackend):
...     name = "echo"
...     def _complete(self, request):
...         return Completion(text=request.messages[-1]["content"])
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with CachedBackend(Echo(), folder / "llm.sqlite") as llm:
...     first = llm.complete([{"role": "user", "content": "hi"}])
...     again = llm.complete([{"role": "user", "content": "hi"}])
...     (again.text, again.cached, llm.calls, llm.hits)
('hi', True, 1, 1)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, Completion, LLMBackend
from sensecf.runs import LLM_CACHE

_FORMAT = 1  # bump when the key recipe changes, so old entries are not misread

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL,
    request TEXT NOT NULL
)
"""


def request_key(identity: dict[str, Any], request: ChatRequest) -> tuple[str, str]:
    """The cache key of ``request`` for a backend of ``identity``, and the JSON it hashes.

    >>> from sensecf.llm.base import GenerationParams
    >>> a = request_key({"backend": "x"}, ChatRequest([{"role": "user", "content": "hi"}]))
    >>> b = request_key({"backend": "x"}, ChatRequest([{"role": "user", "content": "hi"}],
    ...                 params=GenerationParams(seed=1)))
    >>> a[0] != b[0], len(a[0])
    (True, 64)
    """
    payload = json.dumps(
        {
            "format": _FORMAT,
            "identity": identity,
            "params": request.params.as_dict(),
            "messages": request.messages,
            "schema": request.schema,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest(), payload


class CachedBackend(LLMBackend):
    """``backend`` behind a SQLite cache at ``path``; the same interface as any backend.

    Safe to share between threads (one connection, used under a lock; WAL journal so readers
    in other processes are not blocked). ``calls`` counts requests sent to the backend,
    ``hits`` answers served from the file. ``close()`` closes the file and the backend.
    """

    def __init__(self, backend: LLMBackend, path: str | Path) -> None:
        self.backend = backend
        self.path = Path(path)
        self.name = backend.name
        self.calls = 0
        self.hits = 0
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: every answer is its own transaction, durable before the next call.
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SensecfError(
                f"LLM cache: cannot open {self.path} as a SQLite cache: {exc}"
            ) from exc

    @property
    def supports_schema(self) -> bool:  # type: ignore[override]
        return self.backend.supports_schema

    def identity(self) -> dict[str, Any]:
        """The wrapped backend's identity: the cache changes no answer."""
        return self.backend.identity()

    # -- storage ----------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise SensecfError(f"LLM cache: {self.path} is closed")
        return self._db

    def _lookup(self, keys: Sequence[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            db = self._conn()
            for start in range(0, len(unique), 500):  # stay under SQLite's variable limit
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT key, text, prompt_tokens, completion_tokens, seconds "
                    f"FROM completions WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, text, prompt_tokens, completion_tokens, seconds in rows:
                    found[key] = Completion(text, prompt_tokens, completion_tokens, seconds, True)
        return found

    def _store(self, key: str, payload: str, answer: Completion) -> None:
        with self._lock:
            self._conn().execute(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    answer.text,
                    answer.prompt_tokens,
                    answer.completion_tokens,
                    answer.seconds,
                    time.time(),
                    payload,
                ),
            )

    # -- the interface ----------------------------------------------------------------------

    def _complete(self, request: ChatRequest) -> Completion:
        key, payload = request_key(self.identity(), request)
        found = self._lookup([key])
        if key in found:
            with self._lock:
                self.hits += 1
            return found[key]
        with self._lock:
            self.calls += 1
        answer = self.backend.complete(
            request.messages, schema=request.schema, params=request.params
        )
        self._store(key, payload, answer)
        return answer

    def complete_many(
        self,
        requests: Sequence[ChatRequest],
        *,
        on_result: Callable[[int, Completion | Exception], None] | None = None,
    ) -> list[Completion | Exception]:
        """Answers from the file where present; the rest from the backend in one batch.

        Identical requests in a batch make one call. Each new answer is stored the moment the
        backend delivers it (through ``on_result``), so an interrupted batch keeps what it got.
        """
        identity = self.identity()
        keyed = [request_key(identity, r) for r in requests]
        found = self._lookup([k for k, _ in keyed])
        results: list[Completion | Exception | None] = [None] * len(requests)
        waiting: dict[str, list[int]] = {}  # key -> the indexes that want its answer
        for index, (key, _) in enumerate(keyed):
            if key in found:
                results[index] = found[key]
                if on_result is not None:
                    on_result(index, found[key])
            else:
                waiting.setdefault(key, []).append(index)
        with self._lock:
            self.hits += len(requests) - sum(len(v) for v in waiting.values())
            self.calls += len(waiting)
        if waiting:
            keys = list(waiting)
            batch = [requests[waiting[k][0]] for k in keys]

            def arrived(position: int, answer: Completion | Exception) -> None:
                key = keys[position]
                if isinstance(answer, Completion):
                    self._store(key, keyed[waiting[key][0]][1], answer)
                for index in waiting[key]:
                    results[index] = answer
                    if on_result is not None:
                        on_result(index, answer)

            if "on_result" in inspect.signature(self.backend.complete_many).parameters:
                self.backend.complete_many(batch, on_result=arrived)
            else:  # a backend written before on_result: store when the batch ends
                for position, answer in enumerate(self.backend.complete_many(batch)):
                    arrived(position, answer)
        return cast("list[Completion | Exception]", results)

    def stats(self) -> dict[str, Any]:
        """Calls made, hits served and entries stored.

        The counters are for this object's lifetime; ``entries`` counts the whole file.
        """
        with self._lock:
            entries = self._conn().execute("SELECT COUNT(*) FROM completions").fetchone()[0]
            return {
                "calls": self.calls,
                "hits": self.hits,
                "entries": entries,
                "path": str(self.path),
            }

    def close(self) -> None:
        """Close the file and the wrapped backend (safe to call twice)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        self.backend.close()


# ---- moving answers between a driver and its workers ---------------------------------------------
# A worker on another machine cannot write the driver's file: it starts from a copy of the
# driver's answers, and hands back the rows it added, which the driver alone writes.
_COLUMNS = "key, text, prompt_tokens, completion_tokens, seconds, created, request"


def read_rows(path: str | os.PathLike[str], *, since: float | None = None) -> list[tuple[Any, ...]]:
    """Every stored answer of the cache file at ``path`` (those stored at or after ``since``, a
    ``time.time()``), as plain tuples; an absent file has none.

    >>> import tempfile, pathlib
    >>> read_rows(pathlib.Path(tempfile.mkdtemp()) / "none.sqlite")
    []
    """
    path = Path(path)
    if not path.is_file():
        return []
    db = sqlite3.connect(path, timeout=30.0)
    try:
        db.execute(_SCHEMA)
        where, args = ("WHERE created >= ?", (since,)) if since is not None else ("", ())
        return db.execute(f"SELECT {_COLUMNS} FROM completions {where}", args).fetchall()
    finally:
        db.close()


def add_rows(path: str | os.PathLike[str], rows: Sequence[tuple[Any, ...]]) -> int:
    """Store answers read with :func:`read_rows` in the cache file at ``path`` (created when
    absent); an answer already there is kept. Returns how many were new.

    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "llm.sqlite"
    >>> row = ("k", "answer", 3, 2, 0.1, 0.0, "{}")
    >>> add_rows(file, [row]), add_rows(file, [row]), read_rows(file) == [row]
    (1, 0, True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_SCHEMA)
        before = db.total_changes
        db.execute("BEGIN")
        db.executemany(
            f"INSERT OR IGNORE INTO completions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
        )
        db.execute("COMMIT")
        return db.total_changes - before
    finally:
        db.close()


class CacheCopy:
    """The answers of a driver's cache file, as they travel to a worker that cannot reach the
    file: written to a scratch file of the worker's on first use (removed with the copy, at the
    latest when the worker exits), and what the worker adds read back for the driver to store.

    >>> import tempfile, pathlib
    >>> copy = CacheCopy([("k", "answer", 3, 2, 0.1, 0.0, "{}")])
    >>> local = copy.path()
    >>> add_rows(local, [("k2", "more", 1, 1, 0.1, 5.0, "{}")])
    1
    >>> [row[0] for row in copy.added(since=1.0)]
    ['k2']
    """

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.rows = list(rows)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> CacheCopy:
        """A copy of every answer stored at ``path``."""
        return cls(read_rows(path))

    def path(self) -> Path:
        """This process's file of the copied answers (written on first use)."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="sensecf-worker-")
            add_rows(Path(self._scratch.name) / LLM_CACHE, self.rows)
        return Path(self._scratch.name) / LLM_CACHE

    def added(self, since: float) -> list[tuple[Any, ...]]:
        """The answers stored in this process's file at or after ``since`` (a ``time.time()``)."""
        return read_rows(self.path(), since=since) if self._scratch is not None else []

    def __getstate__(self) -> dict[str, Any]:
        return {"rows": self.rows, "_scratch": None}  # each process writes its own file
