"""How a feature reads: its :class:`~sensecf.data.spec.Phrase`, given or generated.

A feature's wording comes from, in this order:

1. its spec entry's ``phrase`` (the shipped AI-READI and UCI heart specs give one per feature);
2. a feature without one that shares its name and kind of quantity with a feature of a shipped
   spec (a user's ``hr_resting`` in bpm) reads as that feature does;
3. otherwise the wording is generated: the label from the description (up to its first ";",
   long asides left out) or the name; a verb for sleep, sitting and activity minutes and for
   step counts, found by keyword in the name and description; the label's distinctive words as
   the terms that mention the feature.

Fields that a given phrase leaves empty are filled from the generated wording.
"""

from __future__ import annotations

import functools
import re

from sensecf.data.aireadi import aireadi_spec
from sensecf.data.heart import heart_spec
from sensecf.data.spec import FeatureSpec, Phrase
from sensecf.interventions.formatting import Quantity, quantity_of

__all__ = ["default_phrase", "feature_phrase", "feature_terms", "generic_label"]

# Words too common to identify a feature of a user's spec (paraphrase check).
_STOPWORDS = frozenset(
    {
        "about",
        "above",
        "after",
        "average",
        "before",
        "below",
        "between",
        "count",
        "daily",
        "during",
        "from",
        "into",
        "level",
        "mean",
        "minutes",
        "hours",
        "night",
        "number",
        "over",
        "percent",
        "rate",
        "share",
        "since",
        "than",
        "that",
        "their",
        "there",
        "these",
        "this",
        "time",
        "total",
        "under",
        "value",
        "values",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "within",
        "without",
    }
)


def feature_phrase(feature: FeatureSpec) -> Phrase:
    """The wording of ``feature``: its own phrase, a shipped feature's, or a generated one.

    >>> feature_phrase(FeatureSpec(name="hr_resting", unit="bpm", bounds=(30, 130))).decrease
    'Lower resting heart rate by {amount}'
    >>> feature_phrase(FeatureSpec(name="bmi", description="Body mass index", bounds=(10, 60)))
    Phrase(label='Body mass index', increase='', decrease='', terms=('body', 'mass', 'index'))
    """
    generated = default_phrase(feature)
    given = feature.phrase or _packaged_phrase(feature)
    if given is None:
        return generated
    return Phrase(
        label=given.label or generated.label,
        increase=given.increase or generated.increase,
        decrease=given.decrease or generated.decrease,
        terms=given.terms or generated.terms,
    )


def default_phrase(feature: FeatureSpec) -> Phrase:
    """The wording generated from a feature's unit, name and description alone.

    >>> default_phrase(FeatureSpec(name="sitting", unit="min", bounds=(0, 1440))).decrease
    'Spend {amount} less sitting a day'
    """
    quantity = quantity_of(feature)
    label = generic_label(feature)
    label_words = tuple(
        w
        for w in re.findall(r"[a-z][a-z0-9]+", label.lower())
        if len(w) >= 4 and w not in _STOPWORDS
    )
    words = f"{feature.name} {feature.description}".lower().replace("_", " ")
    increase = decrease = ""
    terms: tuple[str, ...] = ()
    if quantity == "minutes":
        if ("sleep" in words or feature.group.lower() == "sleep") and not re.search(
            r"deep|light|rem\b|awake|wake|latency|nap|efficien", words
        ):
            increase, decrease = "Sleep {amount} more a night", "Sleep {amount} less a night"
            terms = ("sleep", "slept", "asleep")
        elif re.search(r"sedentary|sitting", words):
            increase = "Spend {amount} more sitting a day"
            decrease = "Spend {amount} less sitting a day"
            terms = ("sitting", "sit", "sedentary")
        elif re.search(r"\bactiv|exercis|moderate|vigorous|mvpa", words):
            increase, decrease = "Be active {amount} more a day", "Be active {amount} less a day"
            terms = ("active", "activity", "exercise")
    elif quantity == "steps":
        increase, decrease = "Walk {number} more steps a day", "Walk {number} fewer steps a day"
        terms = ("step", "walk")
    return Phrase(label=label, increase=increase, decrease=decrease, terms=terms + label_words)


def generic_label(feature: FeatureSpec) -> str:
    """The description up to its first ";" (which starts targets and notes), else the name.

    >>> generic_label(FeatureSpec(name="cgm_cv", bounds=(0, 100),
    ...               description="Glucose variability (SD / mean); target 36% or less"))
    'Glucose variability (SD / mean)'
    """
    text = feature.description.split(";")[0].strip().rstrip(".")
    text = re.sub(r"\s*\([^)]{30,}\)", "", text)  # long asides do not belong in a list item
    return text or feature.name.replace("_", " ").strip()


def feature_terms(feature: FeatureSpec) -> list[str]:
    """Lower-case words and phrases by which a text mentions ``feature`` (its name included).

    >>> feature_terms(FeatureSpec(name="daily_steps", bounds=(0, 30000)))
    ['step', 'walk', 'steps', 'daily_steps', 'daily steps']
    """
    terms = [*feature_phrase(feature).terms, feature.name, feature.name.replace("_", " ")]
    return list(dict.fromkeys(t.lower() for t in terms if len(t.strip()) >= 2))


def _packaged_phrase(feature: FeatureSpec) -> Phrase | None:
    known = _packaged_phrases().get(feature.name)
    if known is None or known[0] != quantity_of(feature):
        return None  # e.g. "steps" in thousands is not a step count
    return known[1]


@functools.cache
def _packaged_phrases() -> dict[str, tuple[Quantity, Phrase]]:
    """The wording of the shipped specs' features, by name (read once: it never changes)."""
    phrases: dict[str, tuple[Quantity, Phrase]] = {}
    for spec in (aireadi_spec(), heart_spec()):
        for feature in spec.features:
            if feature.phrase is not None:
                phrases.setdefault(feature.name, (quantity_of(feature), feature.phrase))
    return phrases
