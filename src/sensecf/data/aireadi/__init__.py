"""Read AI-READI wearable files (CGM, heart rate, sleep, activity, stress) into features.

>>> from sensecf.data.aireadi import aireadi_spec
>>> aireadi_spec().target
'high_stress'
"""

from sensecf.data.aireadi.daily import FEATURES, STRESS_COLUMNS
from sensecf.data.aireadi.features import aireadi_spec, extract_features, read_aireadi
from sensecf.data.aireadi.layout import Layout, conventional_path, timezone_for
from sensecf.data.aireadi.reader import ReadReport, read_participants
from sensecf.data.aireadi.rules import DayRules

__all__ = [
    "FEATURES",
    "DayRules",
    "STRESS_COLUMNS",
    "Layout",
    "ReadReport",
    "aireadi_spec",
    "conventional_path",
    "extract_features",
    "read_aireadi",
    "read_participants",
    "timezone_for",
]
