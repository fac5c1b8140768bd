"""Intervention cards: for a handful of explained people, what to change and how the risk moves.

Each card is one person's best-ranked counterfactual (a valid one first): who it is, which
generator made it, the model's risk before and after, each change with its two values in plain
units, and the intervention text (as ``sensecf explain`` saved it, else written here from the
same templates).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sensecf.data.spec import DatasetSpec
from sensecf.interventions.text import NO_CHANGE_TEXT, describe_changes, shown_values
from sensecf.interventions.wording import feature_phrase
from sensecf.report.parts import Card, Section
from sensecf.report.run_folder import RunData
from sensecf.results import CounterfactualResult
from sensecf.runs import INTERVENTIONS_CSV

__all__ = ["MAX_CARDS", "intervention_cards", "interventions_section"]

MAX_CARDS = 6


def interventions_section(data: RunData) -> Section | None:
    """Cards for a handful of people: from the explain folders, else from the benchmark;
    ``None`` when the run has no counterfactuals.

    >>> from pathlib import Path
    >>> from sensecf.report.run_folder import RunFolder
    >>> interventions_section(RunData(RunFolder(Path(".")))) is None
    True
    """
    sources: list[tuple[CounterfactualResult, pd.DataFrame | None]] = []
    for folder in data.run.explain:
        texts = pd.read_csv(folder / INTERVENTIONS_CSV)
        sources.append((CounterfactualResult.load(folder), texts))
    if not sources and data.counterfactuals is not None:
        sources.append((data.counterfactuals, None))
    cards: list[Card] = []
    for result, texts in sources:
        cards += intervention_cards(result, texts, MAX_CARDS - len(cards))
    if not cards:
        return None
    return Section(
        "interventions",
        "Intervention cards",
        "For a handful of flagged people: what the counterfactual asks them to change, in "
        "plain units, and how the model's risk moves. Each text comes from a template fed with "
        "the numbers, so it cannot disagree with the counterfactual.",
        cards=cards,
    )


def intervention_cards(
    result: CounterfactualResult, texts: pd.DataFrame | None = None, limit: int = MAX_CARDS
) -> list[Card]:
    """One card per explained person (their best-ranked CF, a valid one first), at most
    ``limit``; a table with ``method``, ``query_id``, ``rank`` and ``text`` (the saved
    ``interventions.csv``) gives the texts, else they are written here.

    >>> from sensecf.data.spec import FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "well", 1: "ill"}, desired_class=0,
    ...     features=[FeatureSpec(name="steps", unit="steps", kind="integer", bounds=(0, 50000))])
    >>> queries = pd.DataFrame({"query_id": [0], "steps": [4200.0], "proba_desired": [0.3]})
    >>> cfs = pd.DataFrame({"query_id": [0], "method": ["oracle"], "rank": [0],
    ...                     "steps": [7150.0], "proba_desired": [0.6], "valid": [True]})
    >>> card = intervention_cards(CounterfactualResult("oracle", 0, spec, queries, cfs))[0]
    >>> card.risk_label, card.risk_before, card.risk_after
    ('P(ill)', '0.70', '0.40')
    >>> card.changes, card.text
    ([('steps', '4,200 steps', '7,150 steps')], ['Walk about 3,000 more steps a day (4,200 → 7,150)'])
    """
    spec = result.spec
    cfs = result.cfs
    if limit <= 0 or len(cfs) == 0:
        return []
    queries = result.queries.set_index("query_id")
    order = cfs.assign(_invalid=~cfs["valid"].astype(bool)).sort_values(
        ["query_id", "_invalid", "rank"], kind="stable"
    )
    chosen = order.groupby("query_id", sort=False).head(1)
    if chosen["method"].nunique() > 1:  # a benchmark: one generator per person, in turn
        methods = list(dict.fromkeys(cfs["method"]))
        picks = []
        for i, qid in enumerate(dict.fromkeys(order["query_id"])):
            rows = order[order["query_id"] == qid]
            mine = rows[rows["method"] == methods[i % len(methods)]]
            picks.append((mine if len(mine) else rows).head(1))
        chosen = pd.concat(picks)
    saved = {}
    if texts is not None and {"query_id", "rank", "method", "text"} <= set(texts.columns):
        saved = {
            (int(r.query_id), str(r.method), int(r.rank)): str(r.text)
            for r in texts.itertuples(index=False)
        }
    binary = len(spec.classes) == 2
    risk_class = spec.flagged_class if binary else result.desired_class
    risk_label = f"P({spec.classes[risk_class]})"
    cards = []
    for row in chosen.head(limit).to_dict("records"):
        query = queries.loc[row["query_id"]]
        before = [float(query[n]) for n in spec.feature_names]
        after = [float(row[n]) for n in spec.feature_names]
        changes = describe_changes(spec, before, after)
        shown = [
            (
                feature_phrase(spec.feature(c.feature)).label,
                *shown_values(spec.feature(c.feature), c.before, c.after),
            )
            for c in changes
        ]
        key = (int(row["query_id"]), str(row["method"]), int(row["rank"]))
        text = saved.get(key)
        sentences = text.split("; ") if text else [c.sentence for c in changes] or [NO_CHANGE_TEXT]
        cards.append(
            Card(
                who=_who(spec, query, int(row["query_id"])),
                method=str(row["method"]),
                risk_label=risk_label,
                risk_before=_risk(query.get("proba_desired"), binary),
                risk_after=_risk(row.get("proba_desired"), binary),
                valid=bool(row["valid"]),
                changes=shown,
                text=sentences,
            )
        )
    return cards


def _who(spec: DatasetSpec, query: pd.Series, query_id: int) -> str:
    parts = [f"{c} {query[c]}" for c in spec.id_columns if c in query.index]
    return ", ".join(parts) if parts else f"query {query_id}"


def _risk(proba_desired: Any, binary: bool) -> str:
    if proba_desired is None or pd.isna(proba_desired):
        return "–"
    value = 1.0 - float(proba_desired) if binary else float(proba_desired)
    return f"{value:.2f}"
