"""One self-contained HTML report from a run folder.

:func:`build_report` finds what the folder holds (:class:`~sensecf.report.run_folder.RunFolder`)
and builds the sections it supports (:mod:`sensecf.report.sections`); :meth:`Report.html`
lays them out with the packaged jinja2 template (``templates/report.html.j2``): figures as
base64 PNG, styles inline, no script and nothing fetched when it is opened, laid out for a
laptop screen and for print. :func:`write_report` writes it (``RUN_DIR/report.html`` unless
told otherwise).

>>> import tempfile
>>> build_report(tempfile.mkdtemp() + "/nowhere")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
sensecf.errors.DataError: run folder not found: .../nowhere
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sensecf.data.io import write_text
from sensecf.errors import DataError
from sensecf.report.run_folder import RunFolder

if TYPE_CHECKING:
    from sensecf.report.parts import Section

__all__ = ["REPORT_FILE", "Report", "build_report", "write_report"]

REPORT_FILE = "report.html"
TEMPLATE = "report.html.j2"


@dataclass
class Report:
    """The sections of one run folder's report, and what could not be shown."""

    run: RunFolder
    sections: list[Section]
    problems: list[str] = field(default_factory=list)
    generated_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    )

    @property
    def section_ids(self) -> list[str]:
        """The ids of the sections present, in order (``cohort``, ``benchmark``, ...)."""
        return [s.id for s in self.sections]

    def html(self) -> str:
        """The report as one HTML document."""
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.PackageLoader("sensecf.report", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        return env.get_template(TEMPLATE).render(
            title=f"sensecf report: {self.run.root.resolve().name}",
            run_dir=str(self.run.root),
            generated_at=self.generated_at,
            sections=self.sections,
            problems=self.problems,
        )


def build_report(run_dir: str | os.PathLike[str]) -> Report:
    """The report of a run folder: every section its files support.

    Raises :class:`~sensecf.errors.DataError` when ``run_dir`` is missing, a file, or holds
    no output of a sensecf verb.
    """
    from sensecf.report.sections import build_sections  # matplotlib: only when a report is built

    run = RunFolder.find(run_dir)
    sections, problems = build_sections(run)
    return Report(run, sections, problems)


def write_report(
    run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``), atomically;
    returns its path.

    >>> import tempfile
    >>> import pandas as pd
    >>> from sensecf.data.dataset import Dataset
    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5], "y": [0, 1, 0, 1]})
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = Dataset(df, infer_spec(df, "y")).save(run / "features")
    >>> path = write_report(run)
    >>> path.name, 'id="cohort"' in path.read_text()
    ('report.html', True)
    """
    report = build_report(run_dir)
    path = Path(out) if out is not None else report.run.root / REPORT_FILE
    if path.is_dir():
        raise DataError(f"cannot write the report to {path}: it is a folder; name an .html file")
    write_text(path, report.html())
    return path
