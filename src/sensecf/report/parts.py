"""What a report is made of: sections holding facts, tables, figures, cards and text blocks.

Plain data, laid out by the HTML template; :mod:`sensecf.report.sections` fills them.

>>> Plot("t", "c", b"png").data_uri
'data:image/png;base64,cG5n'
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Card", "Cell", "Plot", "Section", "Table", "text_of"]


@dataclass(frozen=True)
class Cell:
    """A table cell: its text, its 95% interval (``[low, high]``, or empty), and whether it
    is the best value of its metric."""

    text: str
    best: bool = False
    interval: str = ""


@dataclass(frozen=True)
class Table:
    """A table with a header row; ``title`` and ``caption`` are optional."""

    columns: list[str]
    rows: list[list[Cell]]
    title: str = ""
    caption: str = ""

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, title: str = "", caption: str = "") -> Table:
        """A table of a DataFrame's values as text.

        >>> Table.from_frame(pd.DataFrame({"a": [1]})).rows
        [[Cell(text='1', best=False, interval='')]]
        """
        rows = [[Cell(text_of(v)) for v in row] for row in frame.itertuples(index=False)]
        return cls([str(c) for c in frame.columns], rows, title, caption)


@dataclass(frozen=True)
class Plot:
    """A figure: PNG bytes with a title and a caption that says how to read it."""

    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI, so the HTML carries it."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Card:
    """One person's counterfactual, for a reader: who, by which generator, the risk before and
    after, each change with its values, and the intervention text."""

    who: str
    method: str
    risk_label: str
    risk_before: str
    risk_after: str
    valid: bool
    changes: list[tuple[str, str, str]]  # (what, now, after)
    text: list[str]


@dataclass
class Section:
    """One part of the report; empty parts are not shown."""

    id: str
    title: str
    intro: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (title, preformatted text)
    notes: list[str] = field(default_factory=list)


def text_of(value: Any) -> str:
    """A value as a table shows it: floats to 3 significant figures, missing as a dash.

    >>> text_of(0.123456), text_of(None), text_of(float("nan")), text_of(7)
    ('0.123', '–', '–', '7')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
