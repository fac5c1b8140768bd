"""Where independent units of work run: one after another, in local worker processes, or on a
Ray cluster — with the same results wherever they run.

A long job (the augmentation study's cells, the benchmark's chunks of queries, the fine-tuning
teacher's chunks) is a list of *keys* and one pure function ``work(context, key) -> result``:
the context (the data, the settings) goes to each worker once, a key names one unit, and a unit's
randomness derives from its key, never from the order units ran in. Workers compute and return;
only the driver (the calling process) writes files, in :meth:`Execution.run`'s ``on_result``,
so a cluster needs no shared disk and a killed run resumes unit by unit from what the driver
saved.

- ``Execution()`` runs the units in this process, in order (the default; what one core does).
- ``Execution(jobs=N)`` runs them in ``N`` worker processes (``-1``: one per core), started
  with ``spawn`` so no thread or lock of the driver is copied into them.
- ``Execution(ray="auto")`` (a running cluster; ``ray start --head`` on one machine, ``ray start
  --address HEAD:6379`` on the others) or ``Execution(ray="local")`` (a cluster started for
  this run and stopped after it) runs one Ray actor per worker (``jobs``, else one per CPU of
  the cluster). Ray is the optional extra ``sensecf[ray]``.

A unit that raises is reported with its key (``on_error``; by default a warning on this
module's logger) and the others go on. One progress bar counts all units, with the number of
workers and the units per minute.

>>> def square(offset, key):
...     return key * key + offset
>>> got = {}
>>> Execution().run(square, 1, [1, 2, 3], on_result=got.__setitem__)
>>> got
{1: 2, 2: 5, 3: 10}
"""

from __future__ import annotations

import logging
import os
import pickle
import time
import traceback
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Generic, TypeVar

from sensecf.errors import SensecfError

__all__ = ["Execution", "UnitError", "worker_count"]

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")
Work = Callable[[Any, K], R]


@dataclass(frozen=True)
class UnitError(Generic[K]):
    """A unit that failed: its key, what was raised, and where (the worker's traceback)."""

    key: K
    error: str
    trace: str = ""


def worker_count(jobs: int) -> int:
    """The number of workers ``jobs`` asks for: itself, or one per core for ``-1``.

    >>> worker_count(3), worker_count(-1) == (os.cpu_count() or 1)
    (3, True)
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
        raise SensecfError(
            f"jobs must be a positive number of workers, or -1 for one per core; got {jobs!r}",
            option="jobs",
        )
    return os.cpu_count() or 1 if jobs == -1 else jobs


@dataclass(frozen=True)
class Execution:
    """How a job's units run: ``jobs`` workers (1: in this process), or on Ray (``ray``:
    ``"auto"`` for a running cluster, an address ``HOST:PORT``, or ``"local"``)."""

    jobs: int = 1
    ray: str | None = None

    def __post_init__(self) -> None:
        worker_count(self.jobs)
        if self.ray is not None and (not isinstance(self.ray, str) or not self.ray.strip()):
            raise SensecfError(
                f"ray must be 'auto', 'local' or a cluster address HOST:PORT; got {self.ray!r}",
                option="ray",
            )

    @property
    def parallel(self) -> bool:
        """Whether units leave this process."""
        return self.ray is not None or worker_count(self.jobs) > 1

    def describe(self) -> str:
        """E.g. ``serial``, ``2 processes`` or ``Ray (auto)``, for logs and records."""
        if self.ray is not None:
            return f"Ray ({self.ray})"
        n = worker_count(self.jobs)
        return "serial" if n == 1 else f"{n} processes"

    def run(
        self,
        work: Work[K, R],
        context: Any,
        keys: Sequence[K],
        *,
        on_result: Callable[[K, R], None],
        on_error: Callable[[UnitError[K]], None] | None = None,
        stop: Callable[[Exception], bool] | None = None,
        description: str = "units",
        progress: bool = False,
    ) -> None:
        """Run ``work(context, key)`` for every key; hand each result to ``on_result`` in this
        process as it arrives (in key order when serial, else as units finish), and each failure
        to ``on_error``; an error ``stop`` says is the caller's (bad input, not one unit's bad
        luck) stops the run instead: raised as it is when serial, as a :class:`SensecfError`
        with its message otherwise. ``work``, ``context`` and ``stop`` must pickle when the
        units leave this process (module-level functions)."""
        keys = list(keys)
        if len(set(keys)) != len(keys):
            raise SensecfError(f"{description}: every unit needs its own key; some repeat")
        report = on_error or _warn
        if not keys:
            return
        with _Bar(description, len(keys), self.describe(), progress) as bar:
            if not self.parallel:
                for key in keys:
                    _deliver(work, context, key, on_result, report, stop)
                    bar.advance()
            elif self.ray is not None:
                _run_on_ray(self, work, context, keys, on_result, report, bar, stop)
            else:
                _run_in_processes(
                    worker_count(self.jobs), work, context, keys, on_result, report, bar, stop
                )


# ---- serial ---------------------------------------------------------------------------------------
def _deliver(
    work: Work[K, R],
    context: Any,
    key: K,
    on_result: Callable[[K, R], None],
    report: Callable[[UnitError[K]], None],
    stop: Callable[[Exception], bool] | None = None,
) -> None:
    try:
        result = work(context, key)
    except Exception as exc:  # noqa: BLE001 - one unit's failure must not stop the others
        if stop is not None and stop(exc):
            raise
        report(UnitError(key, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return
    on_result(key, result)


def _stopped(value: Any) -> None:
    """A worker's unit failed with an error its run must stop on: raise it here."""
    error, _, fatal = value
    if fatal:
        raise SensecfError(error.split(": ", 1)[-1])


def _warn(failure: UnitError[Any]) -> None:
    logger.warning(f"✗ {failure.key}: {failure.error}")


# ---- local processes ------------------------------------------------------------------------------
# The context a worker process received at its start. It lives in worker processes only (the
# driver never sets it): a process initializer has nowhere else to leave it for later units.
_WORKER_CONTEXT: dict[str, Any] = {}


def _start_worker(payload: bytes) -> None:
    _WORKER_CONTEXT["context"] = pickle.loads(payload)


def _in_worker(
    work: Work[K, R], key: K, stop: Callable[[Exception], bool] | None = None
) -> tuple[bool, Any]:
    """One unit in a worker: ``(True, result)`` or ``(False, (error, traceback, stops))``."""
    try:
        return True, work(_WORKER_CONTEXT["context"], key)
    except Exception as exc:  # noqa: BLE001 - reported by the driver with the unit's key
        fatal = stop is not None and stop(exc)
        return False, (f"{type(exc).__name__}: {exc}", traceback.format_exc(), fatal)


def _run_in_processes(
    workers: int,
    work: Work[K, R],
    context: Any,
    keys: list[K],
    on_result: Callable[[K, R], None],
    report: Callable[[UnitError[K]], None],
    bar: _Bar,
    stop: Callable[[Exception], bool] | None = None,
) -> None:
    payload = _pickled(context, work)
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(keys)),
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(payload,),
    )
    pending: dict[Future[tuple[bool, Any]], K] = {}
    order = {key: i for i, key in enumerate(keys)}
    try:
        for key in keys:
            pending[pool.submit(_in_worker, work, key, stop)] = key
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: order[pending[f]]):
                key = pending.pop(future)
                try:
                    ok, value = future.result()
                except BrokenProcessPool as exc:  # a worker died (out of memory, a crash)
                    report(UnitError(key, f"a worker process died: {exc}"))
                    bar.advance()
                    continue
                if ok:
                    on_result(key, value)
                else:
                    _stopped(value)
                    report(UnitError(key, *value[:2]))
                bar.advance()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _pickled(context: Any, work: Callable[..., Any]) -> bytes:
    try:
        pickle.dumps(work)
        return pickle.dumps(context)
    except Exception as exc:  # noqa: BLE001 - pickling raises many kinds
        raise SensecfError(
            f"units sent to other processes must pickle (a module-level function and plain "
            f"data); got {type(exc).__name__}: {exc}"
        ) from exc


# ---- Ray -----------------------------------------------------------------------------------------
def _run_on_ray(
    execution: Execution,
    work: Work[K, R],
    context: Any,
    keys: list[K],
    on_result: Callable[[K, R], None],
    report: Callable[[UnitError[K]], None],
    bar: _Bar,
    stop: Callable[[Exception], bool] | None = None,
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise SensecfError(
            "running on Ray needs the ray package: pip install 'sensecf[ray]'", option="ray"
        ) from exc
    address = execution.ray
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address == "local":
            kwargs["num_cpus"] = worker_count(execution.jobs) if execution.jobs != 1 else None
        else:
            kwargs["address"] = address
        try:
            ray.init(**{k: v for k, v in kwargs.items() if v is not None})
        except Exception as exc:  # noqa: BLE001 - connection errors come in many kinds
            raise SensecfError(
                f"cannot reach the Ray cluster at {address!r}: {type(exc).__name__}: {exc} "
                "(start one with `ray start --head`, or use --ray local)",
                option="ray",
            ) from exc
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        workers = min(worker_count(execution.jobs) if execution.jobs != 1 else cpus, len(keys))
        payload = ray.put(_pickled(context, work))
        actor: Any = ray.remote(num_cpus=1)(_RayWorker)
        actors: list[Any] = [actor.remote(payload) for _ in range(max(1, workers))]
        queue = list(keys)
        running: dict[Any, tuple[Any, K]] = {}
        for handle in actors:
            if queue:
                key = queue.pop(0)
                running[handle.run.remote(work, key, stop)] = (handle, key)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                handle, key = running.pop(ref)
                try:
                    ok, value = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - an actor that died, a lost node
                    ok, value = False, (f"{type(exc).__name__}: {exc}", "", False)
                if ok:
                    on_result(key, value)
                else:
                    _stopped(value)
                    report(UnitError(key, *value[:2]))
                bar.advance()
                if queue:
                    nxt = queue.pop(0)
                    running[handle.run.remote(work, nxt, stop)] = (handle, nxt)
        for handle in actors:  # a graceful exit, so each worker removes its scratch files
            handle.__ray_terminate__.remote()
    finally:
        if started_here:
            ray.shutdown()


class _RayWorker:
    """A Ray actor: the context unpickled once, then unit after unit (a model loaded by the
    first unit that needs it stays loaded for the next)."""

    def __init__(self, payload: bytes) -> None:
        self.context = pickle.loads(payload)

    def run(
        self, work: Work[K, R], key: K, stop: Callable[[Exception], bool] | None = None
    ) -> tuple[bool, Any]:
        try:
            return True, work(self.context, key)
        except Exception as exc:  # noqa: BLE001 - reported by the driver with the unit's key
            fatal = stop is not None and stop(exc)
            return False, (f"{type(exc).__name__}: {exc}", traceback.format_exc(), fatal)


# ---- progress -------------------------------------------------------------------------------------
class _Bar(AbstractContextManager["_Bar"]):
    """One bar over all units: done/total, workers, units per minute, time elapsed."""

    def __init__(self, description: str, total: int, where: str, enabled: bool) -> None:
        self.description, self.total, self.where = description, total, where
        self.enabled = enabled
        self.done = 0
        self.start = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None
        self._context: AbstractContextManager[Any] = nullcontext()

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                "{task.fields[rate]}",
                TimeElapsedColumn(),
            )
            self._context = self._bar
            self._context.__enter__()
            self._task = self._bar.add_task(
                f"{self.description} · {self.where}", total=self.total, rate=""
            )
        return self

    def advance(self) -> None:
        self.done += 1
        if self._bar is not None:
            minutes = max(time.perf_counter() - self.start, 1e-9) / 60
            self._bar.update(self._task, advance=1, rate=f"{self.done / minutes:.1f}/min")

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)
