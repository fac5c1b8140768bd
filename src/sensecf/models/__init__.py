"""Classifiers: train one on a dataset, evaluate it, save and load its model folder."""

from sensecf.models.classifier import (
    ESTIMATORS,
    TrainedClassifier,
    evaluate_classifier,
    load_model,
    make_estimator,
    split_rows,
    train,
)

__all__ = [
    "ESTIMATORS",
    "TrainedClassifier",
    "evaluate_classifier",
    "load_model",
    "make_estimator",
    "split_rows",
    "train",
]
