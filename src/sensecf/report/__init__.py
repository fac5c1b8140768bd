"""Reports: intervention text a clinician can read, from counterfactuals, and the HTML report
of a run folder.

Templated sentences per changed feature (:mod:`~sensecf.report.intervention`), worded from the
spec (:mod:`~sensecf.report.wording`), with numbers as a person reads them
(:mod:`~sensecf.report.formatting`), and a checked LLM paraphrase
(:mod:`~sensecf.report.paraphrasing`).

The HTML report (:func:`write_report`, the `sensecf report` verb) finds what a run folder holds
(:mod:`~sensecf.report.run_folder`), builds a section for each kind of output
(:mod:`~sensecf.report.sections`, figures from :mod:`~sensecf.report.plots`) and lays them out
with a packaged jinja2 template (:mod:`~sensecf.report.html`).

>>> from sensecf.report import format_minutes
>>> format_minutes(125)
'2 h 5 min'
"""

from sensecf.report.formatting import format_minutes
from sensecf.report.html import Report, build_report, write_report
from sensecf.report.intervention import (
    BEHAVIOUR_GROUPS,
    INFEASIBLE_TEXT,
    NO_CHANGE_TEXT,
    Change,
    describe_changes,
    intervention_table,
    intervention_text,
    shown_values,
)
from sensecf.report.paraphrasing import Paraphrase, check_paraphrase, paraphrase
from sensecf.report.wording import default_phrase, feature_phrase

__all__ = [
    "BEHAVIOUR_GROUPS",
    "INFEASIBLE_TEXT",
    "NO_CHANGE_TEXT",
    "Change",
    "Paraphrase",
    "Report",
    "build_report",
    "check_paraphrase",
    "default_phrase",
    "describe_changes",
    "feature_phrase",
    "format_minutes",
    "intervention_table",
    "intervention_text",
    "paraphrase",
    "shown_values",
    "write_report",
]
