"""Reports: intervention text a clinician can read, from counterfactuals.

>>> from sensecf.report import format_minutes
>>> format_minutes(125)
'2 h 5 min'
"""

from sensecf.report.intervention import (
    BEHAVIOUR_GROUPS,
    NO_CHANGE_TEXT,
    Change,
    Paraphrase,
    check_paraphrase,
    describe_changes,
    format_minutes,
    intervention_table,
    intervention_text,
    paraphrase,
)

__all__ = [
    "BEHAVIOUR_GROUPS",
    "NO_CHANGE_TEXT",
    "Change",
    "Paraphrase",
    "check_paraphrase",
    "describe_changes",
    "format_minutes",
    "intervention_table",
    "intervention_text",
    "paraphrase",
]
