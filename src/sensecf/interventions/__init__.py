"""Interventions: what a counterfactual asks a person to change, in words a clinician can read.

Templated sentences per changed feature (:mod:`~sensecf.interventions.text`), worded from the
spec (:mod:`~sensecf.interventions.wording`), with numbers as a person reads them
(:mod:`~sensecf.interventions.formatting`), and a checked LLM paraphrase
(:mod:`~sensecf.interventions.paraphrasing`). Everything here is plain text from the spec and
the numbers: no plotting, no HTML (that is :mod:`sensecf.report`).

>>> from sensecf.interventions import format_minutes
>>> format_minutes(125)
'2 h 5 min'
"""

from sensecf.interventions.formatting import format_minutes
from sensecf.interventions.paraphrasing import Paraphrase, check_paraphrase, paraphrase
from sensecf.interventions.text import (
    BEHAVIOUR_GROUPS,
    INFEASIBLE_TEXT,
    NO_CHANGE_TEXT,
    NOT_MEASURED,
    Change,
    describe_changes,
    intervention_table,
    intervention_text,
    shown_values,
)
from sensecf.interventions.wording import default_phrase, feature_phrase

__all__ = [
    "BEHAVIOUR_GROUPS",
    "INFEASIBLE_TEXT",
    "NO_CHANGE_TEXT",
    "NOT_MEASURED",
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
    "shown_values",
]
