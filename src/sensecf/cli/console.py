"""Console rendering for the command line: summaries as tables, progress on long steps."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

# Off a terminal (logs, CI, pipes) rich would wrap tables at 80 columns; summaries need more.
_out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def progress_enabled() -> bool:
    """Progress bars unless SENSECF_NO_PROGRESS is set (rich keeps them quiet off a terminal)."""
    return not os.environ.get("SENSECF_NO_PROGRESS")


def done(message: str, seconds: float) -> None:
    """One line that says where a step wrote what, and how long it took."""
    _out.print(f"[green]✓[/green] {message} ({seconds:.1f} s)")


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def print_cohort(cohort: Any) -> None:
    """Size of a synthetic cohort and the quirks written into it."""
    config = cohort.config
    table = _table("Synthetic cohort", "", "value")
    table.add_row("people", str(config.participants))
    table.add_row("days per person", str(config.days))
    table.add_row("Garmin interval (min)", str(config.interval_min))
    table.add_row("seed", str(config.seed))
    for name, count in sorted(getattr(cohort, "quirks", {}).items()):
        table.add_row(f"quirk: {name}", str(count))
    gaps = getattr(cohort, "gaps", None)
    if gaps is not None and len(gaps):
        for (stream, kind), count in gaps.groupby(["stream", "kind"]).size().items():
            what = "persons without the file" if kind == "absent" else "persons whose file stops"
            table.add_row(f"gap: {stream}", f"{count} {what}")
    _out.print(table)


def print_dataset(data: Any) -> None:
    """Rows, people, class balance, and what the reader skipped or dropped."""
    spec = data.spec
    table = _table(f"Features: {spec.name}", "", "value")
    table.add_row("rows", str(len(data)))
    if data.groups is not None:
        table.add_row("people", str(data.groups.nunique()))
    table.add_row("features", str(len(spec.features)))
    for cls, count in data.class_counts().items():
        share = count / max(len(data), 1)
        table.add_row(f"class {cls}: {spec.classes[cls]}", f"{count} ({share:.0%})")
    info = data.info
    if info.get("stress_threshold") is not None:
        table.add_row("stress threshold", f"{info['stress_threshold']:.1f}")
    report = info.get("report", info)
    for key in ("skipped_records", "dropped_rows"):
        for reason, count in sorted((report.get(key) or {}).items()):
            table.add_row(f"{key.replace('_', ' ')}: {reason}", str(count))
    missing = report.get("missing_files") or []
    if missing:
        table.add_row("missing files", str(len(missing)))
    rows = "persons" if info.get("unit") == "person" else "days"
    for name, count in (info.get("missing_by_feature") or {}).items():
        table.add_row(f"{name} missing", f"on {count:,} of {len(data):,} {rows}")
    from sensecf.data.aireadi.reader import emptied_lines  # keeps console imports light

    for text in emptied_lines(report.get("emptied_days") or {}):
        table.add_row("emptied", text)
    for relation in info.get("relations_left_out") or []:
        table.add_row("relation left out", relation)
    for warning in report.get("warnings") or []:
        table.add_row("warning", warning)
    _out.print(table)


def print_classifier(clf: Any, top: int = 8) -> None:
    """Held-out scores and the most important features of a trained classifier."""
    metrics = clf.metrics_
    table = _table("Held-out evaluation", "metric", "value")
    for key in ("auroc", "accuracy", "macro_f1", "minority_f1"):
        if key in metrics:
            table.add_row(key, f"{metrics[key]:.3f}")
    for key in ("n_train", "n_test"):
        if key in metrics:
            table.add_row(key, str(metrics[key]))
    _out.print(table)
    importance = getattr(clf, "feature_importance_", None)
    if importance is not None and len(importance):
        table = _table(
            f"Top {top} features (permutation importance)", "feature", "group", "importance"
        )
        for _, row in importance.head(top).iterrows():
            table.add_row(
                str(row["feature"]), str(row.get("group", "")), f"{row['importance']:.4f}"
            )
        _out.print(table)


def print_cv(summary: Any, *, folds: int, seeds: int) -> None:
    """Cross-validated scores: mean and 95% interval per score, over every split."""
    table = _table(
        f"Cross-validated ({seeds} × {folds}-fold; corrected resampled t interval)",
        "metric",
        "mean [95% CI]",
        "splits",
    )
    for row in summary.to_dict("records"):
        interval = (
            ""
            if row["ci_low"] != row["ci_low"]
            else f" [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        )
        table.add_row(str(row["score"]), f"{row['mean']:.3f}{interval}", str(row["n"]))
    _out.print(table)


def line(text: str) -> None:
    """One line of progress news."""
    _out.print(text)


class _NewsHandler(logging.Handler):
    """Prints each record of the library's loggers as one console line."""

    def emit(self, record: logging.LogRecord) -> None:
        line(record.getMessage())


@contextlib.contextmanager
def news(enabled: bool = True) -> Iterator[None]:
    """While open, the library's progress news (its loggers' INFO lines) prints as console
    lines; the loggers are as they were afterwards.

    >>> with news():
    ...     logging.getLogger("sensecf.evaluation.benchmark").info("✓ oracle: 3 CFs")
    ✓ oracle: 3 CFs
    """
    if not enabled:
        yield
        return
    root = logging.getLogger("sensecf")
    handler, level = _NewsHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def print_frame(frame: Any, title: str) -> None:
    """A DataFrame as a console table (all cells as text)."""
    table = _table(title, *[str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    _out.print(table)


def certificate_text(query: Any) -> str:
    """The oracle's three-way answer for one query row ("" for methods that give none)."""
    from sensecf.generators.oracle.certificate import MESSAGES

    status = query.get("status") if hasattr(query, "get") else None
    return MESSAGES.get(status, "") if isinstance(status, str) else ""


def print_explanations(result: Any, interventions: Any, show: int = 5) -> None:
    """Per person: the probability before → after and the intervention, for the first few."""
    spec = result.spec
    desired = spec.classes[result.desired_class]
    ids = [c for c in spec.id_columns if c in result.queries.columns]
    best = result.cfs.sort_values(["query_id", "rank"]).drop_duplicates("query_id")
    texts = interventions.set_index(["query_id", "rank"])["text"] if len(interventions) else None
    for _, query in result.queries.head(show).iterrows():
        who = ", ".join(f"{c} {query[c]}" for c in ids) or f"row {query['query_id']}"
        cf = best[best["query_id"] == query["query_id"]]
        _out.print(f"\n[bold]{who}[/bold]: P({desired}) {query['proba_desired']:.2f}", end="")
        certificate = certificate_text(query)
        if cf.empty:
            reason = f" — {query['error']}" if query.get("error") else ""
            reason = reason or (f" — {certificate}" if certificate else "")
            _out.print(f" → no counterfactual found{reason}")
            continue
        row = cf.iloc[0]
        mark = "[green]valid[/green]" if row["valid"] else "[red]not valid[/red]"
        _out.print(f" → {row['proba_desired']:.2f} ({mark}, source {row['source']})")
        if certificate:
            _out.print(f"  [dim]{certificate}[/dim]")
        if texts is not None and (row["query_id"], row["rank"]) in texts.index:
            for sentence in str(texts.loc[(row["query_id"], row["rank"])]).splitlines():
                _out.print(f"  • {sentence}")
    rest = len(result.queries) - show
    if rest > 0:
        _out.print(f"\n… and {rest} more (see interventions.csv)")
    _out.print(
        f"\ncoverage {result.coverage:.2f}, validity {result.validity:.2f} "
        f"over {len(result.queries)} rows"
    )
