"""Models: the classifier every generator explains.

Train one on a dataset (:mod:`~sensecf.models.training`), rank its features by permutation
importance (:mod:`~sensecf.models.importance`), evaluate it (:mod:`~sensecf.models.classifier`),
and save and load its model folder (:mod:`~sensecf.models.persistence`).
"""

from sensecf.models.classifier import (
    TrainedClassifier,
    check_threshold,
    evaluate_classifier,
    load_model,
    missing_value_handling,
    model_metadata,
    save_model,
)
from sensecf.models.importance import permutation_importance
from sensecf.models.training import (
    ESTIMATORS,
    MIN_CLASS_ROWS,
    FillEmpty,
    accepts_missing,
    cross_validate,
    fit_pipeline,
    fold_rows,
    make_estimator,
    split_rows,
    train,
)

__all__ = [
    "FillEmpty",
    "accepts_missing",
    "fit_pipeline",
    "ESTIMATORS",
    "MIN_CLASS_ROWS",
    "TrainedClassifier",
    "check_threshold",
    "evaluate_classifier",
    "load_model",
    "make_estimator",
    "missing_value_handling",
    "model_metadata",
    "permutation_importance",
    "save_model",
    "cross_validate",
    "fold_rows",
    "split_rows",
    "train",
]
