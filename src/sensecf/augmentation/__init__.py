"""Counterfactual data augmentation under label scarcity: how much lost F1 do CFs recover?

A share of one class's training rows is removed (the scarcity scenario); a classifier trained
on what is left is the floor, one trained on the full training split the ceiling, and each arm
adds rows to the scarce set — counterfactuals of the other class's rows from a generator, or
random oversampling, SMOTE and ADASYN — and is scored on the untouched test split.
"""

from sensecf.augmentation.arms import OVERSAMPLERS, augmentation_spec, fit_classifier
from sensecf.augmentation.config import DEFAULT_GENERATORS, AugmentationConfig
from sensecf.augmentation.measures import add_recovery, recovery, summarise
from sensecf.augmentation.result import AugmentationResult
from sensecf.augmentation.scenarios import ScarceSplit, Scenario, make_scarce
from sensecf.augmentation.study import augmentation_study

__all__ = [
    "DEFAULT_GENERATORS",
    "OVERSAMPLERS",
    "AugmentationConfig",
    "AugmentationResult",
    "ScarceSplit",
    "Scenario",
    "add_recovery",
    "augmentation_spec",
    "augmentation_study",
    "fit_classifier",
    "make_scarce",
    "recovery",
    "summarise",
]
