"""Reports: intervention text a clinician can read, from counterfactuals.

Templated sentences per changed feature (:mod:`~sensecf.report.intervention`), worded from the
spec (:mod:`~sensecf.report.wording`), with numbers as a person reads them
(:mod:`~sensecf.report.formatting`), and a checked LLM paraphrase
(:mod:`~sensecf.report.paraphrasing`).

>>> from sensecf.report import format_minutes
>>> format_minutes(125)
'2 h 5 min'
"""

from sensecf.report.formatting import format_minutes
from sensecf.report.intervention import (
    BEHAVIOUR_GROUPS,
    INFEASIBLE_TEXT,
    NO_CHANGE_TEXT,
    Change,
    describe_changes,
    intervention_table,
    intervention_text,
)
from sensecf.report.paraphrasing import Paraphrase, check_paraphrase, paraphrase
from sensecf.report.wording import default_phrase, feature_phrase

__all__ = [
    "BEHAVIOUR_GROUPS",
    "INFEASIBLE_TEXT",
    "NO_CHANGE_TEXT",
    "Change",
    "Paraphrase",
    "check_paraphrase",
    "default_phrase",
    "describe_changes",
    "feature_phrase",
    "format_minutes",
    "intervention_table",
    "intervention_text",
    "paraphrase",
]
