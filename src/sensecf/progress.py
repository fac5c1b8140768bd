"""One progress bar for every long loop (persons read, cohorts written, queries explained), and
what a run held in memory at most."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def progress_bar(
    description: str, total: int, enabled: bool = True
) -> Iterator[Callable[[], None]]:
    """A rich progress bar; yields a function that advances it by one step.

    Disabled, it draws nothing and the function does nothing, so callers need no branch.

    >>> with progress_bar("persons", total=2, enabled=False) as advance:
    ...     advance(); advance()
    """
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def track(items: Iterable[T], description: str, total: int, enabled: bool = True) -> Iterator[T]:
    """Yield ``items`` while a progress bar counts them.

    >>> list(track(range(3), "rows", total=3, enabled=False))
    [0, 1, 2]
    """
    with progress_bar(description, total, enabled) as advance:
        for item in items:
            yield item
            advance()


def peak_memory_mb() -> float:
    """The largest resident memory this process (or a finished child) has held, in MB.

    >>> peak_memory_mb() > 0
    True
    """
    import resource
    import sys

    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20
    return max(
        resource.getrusage(who).ru_maxrss * scale
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
