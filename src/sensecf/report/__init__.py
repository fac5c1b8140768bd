"""The HTML report of a run folder (the `sensecf report` verb).

:func:`write_report` finds what a run folder holds (:mod:`~sensecf.report.run_folder`), builds
a section for each kind of output (:mod:`~sensecf.report.sections`, figures from
:mod:`~sensecf.report.plots`, intervention cards from :mod:`~sensecf.report.cards`) and lays
them out with a packaged jinja2 template (:mod:`~sensecf.report.html`). The intervention
sentences themselves come from :mod:`sensecf.interventions`.

>>> from sensecf.report import REPORT_FILE
>>> REPORT_FILE
'report.html'
"""

from sensecf.report.html import REPORT_FILE, Report, build_report, write_report

__all__ = ["REPORT_FILE", "Report", "build_report", "write_report"]
