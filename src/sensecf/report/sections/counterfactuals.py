"""Figures of the counterfactuals: quality per generator, which features each changes, and a
map of the data with the counterfactuals on it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sensecf.data.constraints import changed
from sensecf.data.scales import FeatureScales
from sensecf.evaluation.catalog import CATALOG, Catalog
from sensecf.report import plots
from sensecf.report.parts import Plot, Section
from sensecf.report.run_folder import RunData
from sensecf.report.sections.plausibility import reference_rates
from sensecf.results import CounterfactualResult

__all__ = ["diversity_section", "embedding_section", "feature_changes", "quality_section"]


def quality_section(data: RunData, catalog: Catalog = CATALOG) -> Section | None:
    """Validity, plausibility and sparsity per generator, with 95% intervals."""
    summary = data.summary
    if summary is None or summary.empty:
        return None
    if not any(c in summary.columns for c in catalog.quality):
        return None
    reference = reference_rates(data)
    figure = plots.quality_figure(
        summary,
        data.colours(summary["method"]),
        catalog,
        reference={f"{k}_inlier": v for k, v in reference.items()},
    )
    return Section(
        "quality",
        "Validity, plausibility and sparsity",
        plots=[
            Plot(
                "Per generator",
                "Bars: the mean over queries; whiskers: the 95% interval (cut at the metric's "
                "range). Validity: share of "
                "a query's counterfactuals the model puts in the desired class. Plausibility: "
                "share a LocalOutlierFactor fitted on training rows of the desired class calls "
                "inliers"
                + (
                    " (dashed: the share of held-out real rows of the desired class it calls "
                    "inliers, the reference)"
                    if reference
                    else ""
                )
                + ". Sparsity: number of features changed.",
                figure,
            )
        ],
    )


def feature_changes(
    result: CounterfactualResult, scales: FeatureScales
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per method (rows) and feature (columns): the share of CFs that change the feature, and
    the median size of the change in scale units where it changes.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...                    features=[FeatureSpec(name="x", bounds=(0, 10))])
    >>> queries = pd.DataFrame({"query_id": [0], "x": [1.0]})
    >>> cfs = pd.DataFrame({"query_id": [0, 0], "method": ["m", "m"], "x": [1.0, 3.0]})
    >>> r = CounterfactualResult("m", 0, spec, queries, cfs)
    >>> share, size = feature_changes(r, FeatureScales.from_reference(spec, np.array([[0.0], [2.0]])))
    >>> float(share.loc["m", "x"]), float(size.loc["m", "x"])
    (0.5, 2.0)
    """
    names = result.spec.feature_names
    Q, C = result.query_matrix(), result.cf_matrix()
    moved = changed(Q, C)
    size = np.where(moved, np.abs(C - Q) / scales.scale, np.nan)
    methods = result.cfs["method"].to_numpy()
    share = pd.DataFrame(moved.astype(float), columns=names).groupby(methods, sort=False).mean()
    with np.errstate(all="ignore"):
        sizes = pd.DataFrame(size, columns=names).groupby(methods, sort=False).median()
    return share, sizes


def _scales(data: RunData, result: CounterfactualResult) -> tuple[FeatureScales, str]:
    reference = data.reference
    if reference is not None and reference.spec.feature_names == result.spec.feature_names:
        X = reference.X.to_numpy(dtype=float)
        return FeatureScales.from_reference(result.spec, X), "the model's training rows"
    X = result.queries[result.spec.feature_names].to_numpy(dtype=float)
    return FeatureScales.from_reference(result.spec, X), "the explained rows"


def diversity_section(data: RunData) -> Section | None:
    """How often, and by how much, each generator changes each feature."""
    result = data.counterfactuals
    if result is None or len(result.cfs) == 0:
        return None
    scales, source = _scales(data, result)
    share, size = feature_changes(result, scales)
    touched = share.columns[(share > 0).any(axis=0)]
    if len(touched) == 0:
        return None
    never = [f for f in share.columns if f not in touched]
    caption = (
        "Top: the share of each generator's counterfactuals that change a feature. Bottom: "
        f"the median size of the change where it changes, in units of the feature's MAD on "
        f"{source} (its standard deviation or step where the MAD is 0)."
    )
    if never:
        caption += f" Features no generator changed are left out: {', '.join(never)}."
    return Section(
        "diversity",
        "Feature diversity",
        plots=[
            Plot(
                "Which features each generator changes",
                caption,
                plots.feature_change_figure(share[touched], size[touched]),
            )
        ],
    )


def embedding_section(data: RunData) -> Section | None:
    """A PCA map: reference rows by class, and per generator the factual rows and their CFs."""
    result = data.counterfactuals
    if result is None or len(result.cfs) == 0:
        return None
    spec = result.spec
    names = spec.feature_names
    queries = result.queries.reset_index(drop=True)
    reference = data.reference
    if reference is not None and reference.spec.feature_names == names:
        ref_X, ref_y = reference.X.to_numpy(dtype=float), reference.y.to_numpy()
        source = "the model's training rows"
    else:
        ref_X = queries[names].to_numpy(dtype=float)
        ref_y = queries["label"].to_numpy() if "label" in queries else np.full(len(queries), -1)
        source = "the explained rows"
    position = pd.Series(np.arange(len(queries)), index=queries["query_id"])
    per_method = {}
    for method, part in result.cfs.groupby("method", sort=False):
        which = position.loc[part["query_id"]].to_numpy()
        per_method[str(method)] = (which, part[names].to_numpy(dtype=float))
    figure = plots.embedding_figure(
        ref_X,
        ref_y,
        dict(spec.classes),
        queries[names].to_numpy(dtype=float),
        per_method,
        data.colours(list(per_method)),
    )
    return Section(
        "embedding",
        "Counterfactuals on a map of the data",
        plots=[
            Plot(
                "PCA of factual rows and counterfactuals, per generator",
                f"The first two principal components of {source} (standardised). Shaded dots: "
                "those rows, by class; black: the explained (factual) rows; crosses: each "
                "generator's counterfactuals, joined to their factual row. A counterfactual "
                "among rows of the desired class is a plausible one.",
                figure,
            )
        ],
    )
