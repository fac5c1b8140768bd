"""The report's sections, each built from the files of a run folder that it needs.

A section is plain data (:class:`~sensecf.report.parts.Section`: facts, tables, figures,
intervention cards, text blocks) that the HTML template lays out. Each builder returns ``None``
when the run folder lacks its inputs, so a report holds exactly the sections its folder
supports:

- ``cohort``: the cohort and the model (sizes, class balance, held-out scores, importances;
  :mod:`~sensecf.report.sections.cohort`);
- ``benchmark``: every generator and metric with 95% intervals, the best per metric marked,
  and what the language model itself adds (:mod:`~sensecf.report.sections.benchmark`);
- ``quality``: validity, plausibility and sparsity per generator;
- ``diversity``: how often and by how much each feature is changed, per generator;
- ``embedding``: a 2-D map (PCA) of the factual rows and each generator's counterfactuals
  (these three: :mod:`~sensecf.report.sections.counterfactuals`);
- ``augmentation``: the augmentation study's tables and curves
  (:mod:`~sensecf.report.sections.augmentation`);
- ``finetune``: the fine-tune loss curve (:mod:`~sensecf.report.sections.finetune`);
- ``interventions``: intervention cards for a handful of people
  (:mod:`~sensecf.report.cards`);
- ``config``: the run's settings and the package versions
  (:mod:`~sensecf.report.sections.config`).

The measures' labels, formats and directions come from a catalog
(:mod:`sensecf.evaluation.catalog`), the default one unless ``build_sections`` is given another.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sensecf.evaluation.catalog import CATALOG, Catalog
from sensecf.report.cards import interventions_section
from sensecf.report.parts import Section
from sensecf.report.run_folder import RunData, RunFolder
from sensecf.report.sections.augmentation import augmentation_section
from sensecf.report.sections.benchmark import all_metrics_table, benchmark_section, metric_table
from sensecf.report.sections.cohort import cohort_section
from sensecf.report.sections.common import SECTION_ERRORS
from sensecf.report.sections.config import config_section
from sensecf.report.sections.counterfactuals import (
    diversity_section,
    embedding_section,
    feature_changes,
    quality_section,
)
from sensecf.report.sections.finetune import finetune_section

__all__ = [
    "SECTION_ERRORS",
    "all_metrics_table",
    "build_sections",
    "feature_changes",
    "metric_table",
]


def build_sections(run: RunFolder, catalog: Catalog = CATALOG) -> tuple[list[Section], list[str]]:
    """Every section the run folder supports, in reading order, and a note for each section
    whose inputs were there but could not be read.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from sensecf.data.dataset import Dataset
    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5], "y": [0, 1, 0, 1]})
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = Dataset(df, infer_spec(df, "y")).save(run / "features")
    >>> sections, problems = build_sections(RunFolder.find(run))
    >>> [s.id for s in sections], problems
    (['cohort', 'config'], [])
    """
    data = RunData(run)
    builders: list[tuple[str, Callable[[RunData], Section | None]]] = [
        ("cohort and model", cohort_section),
        ("benchmark", partial(benchmark_section, catalog=catalog)),
        ("validity, plausibility and sparsity", partial(quality_section, catalog=catalog)),
        ("feature diversity", diversity_section),
        ("embedding", embedding_section),
        ("augmentation study", augmentation_section),
        ("fine-tuning", finetune_section),
        ("intervention cards", interventions_section),
        ("configuration", config_section),
    ]
    sections, problems = [], []
    for name, build in builders:
        try:
            section = build(data)
        except SECTION_ERRORS as exc:
            problems.append(f"The {name} section was left out: {type(exc).__name__}: {exc}")
            continue
        if section is not None:
            sections.append(section)
    return sections, problems
