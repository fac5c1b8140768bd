"""The study's plots, as PNG files in the study folder (matplotlib, no display needed).

- ``f1_by_scarcity.png``: macro-F1 and the scarce class's F1 by share removed, one line per
  arm with its 95% band;
- ``embedding.png``: a 2-D map (UMAP when installed, else t-SNE) of real rows of each class and
  each arm's added rows, at the middle scarcity level and the first seed, so a reader sees
  whether synthetic rows sit where real rows of their class do;
- ``feature_changes.png``: per generator, how often each feature differs from the source row.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sensecf.data.dataset import Dataset

if TYPE_CHECKING:
    from sensecf.augmentation.result import AugmentationResult

MAX_POINTS = 1500  # t-SNE is quadratic; a sample of this size shows the shape


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(study: AugmentationResult, data: Dataset, out: Path) -> list[Path]:
    """Write every plot the results allow; returns their paths."""
    paths = [plot_f1(study.summary, out / "f1_by_scarcity.png")]
    if len(study.rows):
        paths.append(plot_embedding(study, data, out / "embedding.png"))
    if len(study.feature_changes):
        paths.append(plot_feature_changes(study.feature_changes, out / "feature_changes.png"))
    return paths


def plot_f1(summary: pd.DataFrame, path: Path) -> Path:
    """Macro-F1 and scarce-class F1 against the share removed, one line and band per arm."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, metric, title in (
        (axes[0], "macro_f1", "macro-F1"),
        (axes[1], "minority_f1", "F1 of the scarce class"),
    ):
        for arm, rows in summary.groupby("arm", sort=False):
            rows = rows.sort_values("share")
            style = "--" if arm in ("full", "scarce") else "-"
            (line,) = ax.plot(rows["share"], rows[metric], style, marker="o", label=arm)
            ax.fill_between(
                rows["share"],
                rows[f"{metric}_ci_low"],
                rows[f"{metric}_ci_high"],
                color=line.get_color(),
                alpha=0.15,
            )
        ax.set_xlabel("share of the class's training rows removed")
        ax.set_title(title)
        # Scores live in [0, 1]: a wide interval from few seeds need not stretch the axis.
        bands = summary[[f"{metric}_ci_low", f"{metric}_ci_high", metric]].to_numpy(dtype=float)
        low, high = np.nanmin(bands), np.nanmax(bands)
        ax.set_ylim(max(-0.02, low - 0.02), min(1.02, high + 0.02))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test score (mean, 95% band over seeds)")
    axes[1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def embed(X: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """A 2-D embedding of standardised rows: UMAP when installed, else t-SNE.

    >>> xy, how = embed(np.random.default_rng(0).normal(size=(30, 4)))
    >>> xy.shape
    (30, 2)
    """
    X = np.asarray(X, dtype=float)
    X = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    if importlib.util.find_spec("umap") is not None:
        import umap

        reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1)
        return reducer.fit_transform(X), "UMAP"
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(X) - 1) // 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(X), "t-SNE"


def plot_embedding(study: AugmentationResult, data: Dataset, path: Path) -> Path:
    """Real rows of each class and each arm's added rows at one scenario and seed."""
    plt = _pyplot()
    spec = data.spec
    rows = study.rows
    shares = sorted(rows["share"].unique())
    share = shares[len(shares) // 2]
    seed = int(rows["seed"].min())
    shown = rows[(rows["share"] == share) & (rows["seed"] == seed)]
    scarce_class = int(shown["scarce_class"].iloc[0])
    rng = np.random.default_rng(seed)
    groups: list[tuple[str, np.ndarray]] = []
    for cls in sorted(spec.classes):
        X = data.X[data.y == cls].to_numpy(dtype=float)
        kind = "scarce class" if cls == scarce_class else "other class"
        groups.append((f"real {spec.classes[cls]} ({kind})", X))
    for arm, part in shown.groupby("arm", sort=False):
        groups.append((f"{arm} rows", part[spec.feature_names].to_numpy(dtype=float)))
    per_group = max(20, MAX_POINTS // len(groups))
    sampled = [
        (label, X[rng.choice(len(X), min(len(X), per_group), replace=False)])
        for label, X in groups
        if len(X)
    ]
    xy, method = embed(np.vstack([X for _, X in sampled]), seed)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    start = 0
    for i, (label, X) in enumerate(sampled):
        part = xy[start : start + len(X)]
        start += len(X)
        real = i < len(spec.classes)
        ax.scatter(
            part[:, 0],
            part[:, 1],
            s=10 if real else 16,
            alpha=0.35 if real else 0.8,
            marker="o" if real else "x",
            color="lightgrey" if real and i != scarce_class else None,
            label=label,
        )
    ax.set_title(f"{method} of real and added rows ({share:.0%} removed, seed {seed})")
    ax.legend(fontsize=7, markerscale=1.5, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_feature_changes(changes: pd.DataFrame, path: Path) -> Path:
    """A heat map: generators × features, the share of rows that changed each feature."""
    plt = _pyplot()
    table = changes.pivot(index="arm", columns="feature", values="changed_share")
    table = table[list(dict.fromkeys(changes["feature"]))]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * table.shape[1] + 2), 1.0 + 0.5 * len(table)))
    image = ax.imshow(table.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(len(table)), table.index, fontsize=8)
    ax.set_title("Share of generated rows that changed each feature from their source row")
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
