"""Per-feature scales and the distances built on them, shared by generators and metrics.

One definition of "how far is a change": the median absolute deviation (MAD) of the reference
rows, without the 1.4826 factor. Many coded or integer features have a MAD of 0; for those the
standard deviation stands in, then the feature's rounding step. Missing values are ignored, and
a column with no values at all falls back to its step.

>>> import numpy as np
>>> from sensecf.data.spec import DatasetSpec, FeatureSpec
>>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0, features=[
...     FeatureSpec(name="x", bounds=(0, 100)), FeatureSpec(name="z", bounds=(0, 1), step=1)])
>>> X = np.array([[1.0, 0], [2, 0], [4, 0], [np.nan, 0]])
>>> scales = FeatureScales.from_reference(spec, X)
>>> scales.scale.tolist(), scales.source.tolist()
([1.0, 1.0], ['mad', 'step'])
>>> float(scales.l1(np.array([1.0, 0]), np.array([3.0, 1]))[0])
3.0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from sensecf.data.spec import DatasetSpec


@dataclass(frozen=True)
class FeatureScales:
    """The scale of each feature (spec order) and which statistic it came from."""

    scale: np.ndarray
    source: np.ndarray  # "mad" | "std" | "step" per feature
    mad: np.ndarray
    std: np.ndarray
    median: np.ndarray

    @classmethod
    def from_reference(cls, spec: DatasetSpec, X: np.ndarray) -> FeatureScales:
        """Scales from reference rows ``X`` (n × features, spec order; NaN allowed)."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(spec.features):
            raise ValueError(
                f"reference rows must be a 2-D array with {len(spec.features)} columns; "
                f"got shape {X.shape}"
            )
        step = np.array([float(f.step) for f in spec.features])
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns handled below
            median = np.nanmedian(X, axis=0) if len(X) else np.full(X.shape[1], np.nan)
            mad = np.nanmedian(np.abs(X - median), axis=0) if len(X) else median.copy()
            std = np.nanstd(X, axis=0) if len(X) else median.copy()
        has_mad = np.nan_to_num(mad) > 0
        has_std = np.nan_to_num(std) > 0
        scale = np.where(has_mad, mad, np.where(has_std, std, step))
        source = np.where(has_mad, "mad", np.where(has_std, "std", "step"))
        return cls(scale=scale, source=source, mad=mad, std=std, median=median)

    def l1(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scaled L1 distance between rows of ``a`` and ``b`` (broadcast), one value per row."""
        delta = np.abs(np.atleast_2d(np.asarray(b, dtype=float)) - np.asarray(a, dtype=float))
        return (delta / self.scale).sum(axis=1)
