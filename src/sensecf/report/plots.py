"""The report's figures, each drawn on its own matplotlib ``Figure`` and returned as PNG bytes.

No pyplot and no display: a :class:`~matplotlib.figure.Figure` draws on the Agg canvas, so
figures are independent of one another and of any global state. Each generator keeps one
colour across the figures (:func:`method_colours`).

>>> import pandas as pd
>>> loss = pd.DataFrame({"step": [1, 2, 3], "loss": [2.0, 1.2, 0.9]})
>>> loss_figure(loss)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sensecf.evaluation.catalog import CATALOG, Catalog

__all__ = [
    "embedding_figure",
    "feature_change_figure",
    "frontier_figure",
    "importance_figure",
    "loss_figure",
    "method_colours",
    "png",
    "quality_figure",
]

DPI = 110
_PALETTE = "tab10"


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (tight layout, white background).

    >>> png(Figure(figsize=(1, 1)))[:4]
    b'\\x89PNG'
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def method_colours(methods: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """One colour per method, in the order given (cycling through ten).

    >>> list(method_colours(["oracle", "dice-random"]))
    ['oracle', 'dice-random']
    """
    from matplotlib import colormaps

    cmap = colormaps[_PALETTE]
    return {m: tuple(cmap(i % cmap.N)) for i, m in enumerate(dict.fromkeys(methods))}


def importance_figure(importance: pd.DataFrame, top: int = 15) -> bytes:
    """Horizontal bars of the ``top`` most important features (``feature``, ``importance``,
    optional ``importance_std`` as error bars), most important on top.

    >>> importance_figure(pd.DataFrame({"feature": ["a", "b"], "importance": [0.1, 0.3]}))[:4]
    b'\\x89PNG'
    """
    rows = importance.sort_values("importance", ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(7.5, 0.3 * len(rows) + 1.2))
    ax = fig.add_subplot()
    errors = rows.get("importance_std")
    ax.barh(rows["feature"], rows["importance"], xerr=errors, color="#4c72b0", ecolor="#555")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("drop in held-out AUROC when the feature is shuffled (mean ± sd)")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    return png(fig)


def quality_figure(
    summary: pd.DataFrame,
    colours: dict[str, tuple[float, ...]],
    catalog: Catalog = CATALOG,
    reference: Mapping[str, float] | None = None,
) -> bytes:
    """Validity, plausibility and sparsity per method: the mean over queries and its 95%
    interval, one panel per measure of the catalog's ``quality`` view (``summary``: one row
    per method, the benchmark's columns). A panel is titled by its measure's family; a share's
    axis stays in [0, 1]. ``reference``: a value per measure (e.g. the held-out real rows'
    ``lof_inlier``), drawn as a dashed line on its panel.

    >>> s = pd.DataFrame({"method": ["a", "b"], "query_validity": [1.0, 0.5], "l0": [2.0, 4.0]})
    >>> quality_figure(s, method_colours(["a", "b"]), reference={"query_validity": 0.9})[:4]
    b'\\x89PNG'
    """
    methods = list(summary["method"])
    panels = [m for m in catalog.view("quality") if m.name in summary.columns]
    fig = Figure(figsize=(4.0 * len(panels), 0.45 * len(methods) + 1.6))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    y = np.arange(len(methods))[::-1]
    for ax, measure in zip(axes, panels, strict=True):
        column, unit = measure.name, measure.share
        mean = summary[column].to_numpy(dtype=float)
        low = summary.get(f"{column}_ci_low", pd.Series(np.nan, index=summary.index))
        high = summary.get(f"{column}_ci_high", pd.Series(np.nan, index=summary.index))
        # Intervals stay in range now; a summary written by an older version (t-intervals) may
        # not, and its whiskers must not leave the metric's range either.
        low = np.clip(low.to_numpy(dtype=float), 0, 1 if unit else None)
        high = np.clip(high.to_numpy(dtype=float), 0, 1 if unit else None)
        err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
        err = np.clip(err, 0, None)  # a mean at its interval's end can lie past it by rounding
        ax.barh(
            y,
            np.nan_to_num(mean),
            xerr=np.where(np.isnan(mean), 0, err),
            color=[colours[m] for m in methods],
            ecolor="#333",
            capsize=3,
        )
        ends = np.fmax(np.nan_to_num(mean), np.nan_to_num(high))
        for yi, value, end in zip(y, mean, ends, strict=True):
            text = "–" if np.isnan(value) else format(value, measure.fmt)
            ax.text(end, yi, f"  {text}", va="center", ha="left", fontsize=8, color="#222")
        ax.margins(x=0.18)
        line = (reference or {}).get(column)
        if line is not None and np.isfinite(line):
            ax.axvline(line, color="#444", linestyle="--", linewidth=1)  # the caption says
        ax.set_title(measure.family.capitalize())
        ax.set_xlabel(measure.axis or measure.title, fontsize=8)
        ax.set_xlim(left=0)
        if unit:
            ax.set_xlim(0, 1.25)  # room for the labels beyond 1
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, methods, fontsize=8)
    fig.tight_layout()
    return png(fig)


def feature_change_figure(shares: pd.DataFrame, sizes: pd.DataFrame) -> bytes:
    """Two heat maps, methods × features: how often each feature is changed (share of CFs)
    and by how much when it is (median |change| in MAD units).

    >>> share = pd.DataFrame({"x": [0.5], "z": [0.0]}, index=["m"])
    >>> size = pd.DataFrame({"x": [1.5], "z": [np.nan]}, index=["m"])
    >>> feature_change_figure(share, size)[:4]
    b'\\x89PNG'
    """
    fig = Figure(figsize=(max(8.0, 0.32 * shares.shape[1] + 3), 1.6 + 0.9 * len(shares)))
    top, bottom = fig.subplots(2, 1, sharex=True)
    image = top.imshow(shares.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    top.set_title("How often: share of each method's CFs that change the feature", fontsize=9)
    fig.colorbar(image, ax=top, fraction=0.025)
    values = sizes.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    vmax = float(np.quantile(finite, 0.95)) if finite.size else 1.0
    shown = np.ma.masked_invalid(values)
    image = bottom.imshow(shown, vmin=0, vmax=max(vmax, 1e-9), cmap="magma_r", aspect="auto")
    bottom.set_facecolor("#f2f2f2")  # a feature never changed: no size to show
    bottom.set_title(
        "How much: median |change| in MAD units, where changed (grey: never)", fontsize=9
    )
    fig.colorbar(image, ax=bottom, fraction=0.025)
    for ax in (top, bottom):
        ax.set_yticks(range(len(shares)), shares.index, fontsize=8)
    bottom.set_xticks(range(shares.shape[1]), shares.columns, rotation=70, ha="right", fontsize=7)
    fig.tight_layout()
    return png(fig)


def embedding_figure(
    reference: np.ndarray,
    reference_labels: np.ndarray,
    class_names: dict[int, str],
    queries: np.ndarray,
    counterfactuals: dict[str, tuple[np.ndarray, np.ndarray]],
    colours: dict[str, tuple[float, ...]],
) -> bytes:
    """A PCA map of the reference rows (by class), and per method its queries and CFs.

    ``counterfactuals`` maps a method to ``(rows of queries, CFs)``: for each CF, the index of
    its query in ``queries`` and its feature values. The axes come from the reference rows,
    standardised (missing values at the median), so every panel shares one map.

    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> cfs = {"m": (np.array([0, 1]), X[:2] + 1)}
    >>> embedding_figure(X, np.arange(20) % 2, {0: "a", 1: "b"}, X[:2], cfs,
    ...                  method_colours(["m"]))[:4]
    b'\\x89PNG'
    """
    from sklearn.decomposition import PCA

    centre = np.nanmedian(reference, axis=0)
    centre = np.where(np.isnan(centre), 0.0, centre)
    scale = np.nanstd(reference, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)

    def standard(X: np.ndarray) -> np.ndarray:
        X = np.where(np.isnan(X), centre, X)
        return (X - centre) / scale

    pca = PCA(n_components=2, random_state=0).fit(standard(reference))
    ref_xy = pca.transform(standard(reference))
    query_xy = pca.transform(standard(queries)) if len(queries) else np.empty((0, 2))
    methods = list(counterfactuals)
    ncols = min(3, max(1, len(methods)))
    nrows = max(1, math.ceil(len(methods) / ncols))
    fig = Figure(figsize=(4.2 * ncols, 3.8 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    shades = ("#c6d4e1", "#e8c9c9", "#d8e6cf", "#e6dccf")  # light, so the CFs stand out
    greys = {cls: shades[i % len(shades)] for i, cls in enumerate(sorted(class_names))}
    explained = pca.explained_variance_ratio_
    for ax, method in zip(axes, methods, strict=False):
        for cls, name in sorted(class_names.items()):
            part = ref_xy[reference_labels == cls]
            ax.scatter(part[:, 0], part[:, 1], s=6, color=greys.get(cls, "#ddd"), label=name)
        which, cfs = counterfactuals[method]
        cf_xy = pca.transform(standard(cfs)) if len(cfs) else np.empty((0, 2))
        for (qx, qy), (cx, cy) in zip(query_xy[which], cf_xy, strict=True):
            ax.plot([qx, cx], [qy, cy], color=colours[method], alpha=0.5, linewidth=0.8)
        ax.scatter(query_xy[:, 0], query_xy[:, 1], s=18, color="black", label="factual rows")
        ax.scatter(
            cf_xy[:, 0], cf_xy[:, 1], s=34, marker="X", color=colours[method], label="its CFs"
        )
        ax.set_title(method, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(methods) :]:
        ax.set_axis_off()
    axes[0].legend(fontsize=7, loc="best", markerscale=1.2)
    fig.supxlabel(f"PC 1 ({explained[0]:.0%} of the variance)", fontsize=8)
    fig.supylabel(f"PC 2 ({explained[1]:.0%})", fontsize=8)
    fig.tight_layout()
    return png(fig)


def loss_figure(loss: pd.DataFrame) -> bytes:
    """The training loss by step (with a moving average when there are many steps), and the
    evaluation loss where the table has one (``eval_loss`` or ``val_loss``)."""
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot()
    loss = loss.sort_values("step")
    ax.plot(
        loss["step"],
        loss["loss"],
        color="#4c72b0",
        alpha=0.5 if len(loss) > 50 else 1.0,
        marker="o" if len(loss) <= 50 else None,
        markersize=3,
        label="training loss",
    )
    if len(loss) > 50:
        window = max(5, len(loss) // 25)
        smooth = loss["loss"].rolling(window, min_periods=1).mean()
        ax.plot(loss["step"], smooth, color="#1f3b63", label=f"moving average ({window} steps)")
    for column in ("eval_loss", "val_loss"):
        if column in loss.columns and loss[column].notna().any():
            part = loss[loss[column].notna()]
            ax.plot(part["step"], part[column], "s-", color="#dd8452", label="held-out loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png(fig)


def frontier_figure(frontier: pd.DataFrame) -> bytes:
    """The plausibility frontier: each person's certified fewest changes (y) as the detector's
    threshold tightens (x: the share of held-out real rows of the desired class it calls
    outliers, 1 - ``inlier_rate``; ``none`` where the oracle is not held, ``inlier_rate`` 0).
    A filled marker is a certified minimum, a hollow one a bound; a person no plausible change
    flips (certified) is marked ✗ above the lines.

    >>> f = pd.DataFrame({"query_id": [0, 0, 1, 1], "inlier_rate": [0.0, 0.9, 0.0, 0.9],
    ...                   "status": ["optimal", "optimal", "optimal", "infeasible"],
    ...                   "min_l0": [1.0, 2.0, 2.0, None],
    ...                   "min_l0_certified": [True, True, True, False]})
    >>> frontier_figure(f)[:4]
    b'\\x89PNG'
    """
    frame = frontier.copy()
    rate = frame["inlier_rate"].astype(float)
    strictness = np.where(rate > 0, 1.0 - rate, 0.0)
    levels = sorted(set(strictness.tolist()))
    frame["x"] = [levels.index(v) for v in strictness]  # evenly spaced, in order
    people = list(dict.fromkeys(frame["query_id"]))
    owner = frame.groupby("query_id")["person"].first() if "person" in frame.columns else None
    # As hex: matplotlib's edge colours take a 3- or 4-tuple, not any tuple.
    shades = method_colours([str(p) for p in people]).items()
    colours = {k: to_hex((v[0], v[1], v[2])) for k, v in shades}
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.add_subplot()
    top = float(np.nanmax(frame["min_l0"])) if frame["min_l0"].notna().any() else 1.0
    for k, person in enumerate(people):
        rows = frame[frame["query_id"] == person].sort_values("x")
        colour = colours[str(person)]
        name = f"query {person}" if owner is None else f"person {owner[person]} (query {person})"
        answered = rows[rows["min_l0"].notna()]
        offset = (k - (len(people) - 1) / 2) * 0.06  # people with equal counts stay apart
        ax.plot(answered["x"], answered["min_l0"] + offset, color=colour, label=name, alpha=0.8)
        certified = answered["min_l0_certified"].astype(bool)
        ax.scatter(
            answered["x"][certified], answered["min_l0"][certified] + offset, color=colour, s=30
        )
        ax.scatter(
            answered["x"][~certified],
            answered["min_l0"][~certified] + offset,
            facecolors="white",
            edgecolors=colour,
            s=30,
        )
        none = rows[rows["status"] == "infeasible"]
        ax.scatter(none["x"], [top + 1] * len(none), marker="x", color=colour, s=40)
    ax.set_xticks(range(len(levels)), ["none" if v == 0 else f"{v:.2f}" for v in levels])
    ax.set_xlabel("share of real held-out desired-class rows the detector calls outliers")
    ax.set_ylabel("fewest changes (certified minimum)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return png(fig)
