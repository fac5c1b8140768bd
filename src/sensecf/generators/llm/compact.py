"""The fine-tune's own compact prompt and answer, saved with the model so inference uses exactly it.

A prompt carries what the answer depends on and little else: the probability the model gives
now and the one it needs, then one line per feature in play — its current value and the values
the answer may take for it. The first lines are the features that reach the goal *on their own*
(:func:`~sensecf.generators.llm.probe.nearest_flips`), cheapest first (the effort of their
smallest such move where the spec states costs, else its MAD-scaled distance), each with that
smallest move first and farther ones after it. For a person no single change serves, a
``together:`` line introduces the features that only help (the classifier's one-feature probe,
strongest values first), or, in a ``typical`` format, those of the exact program's answers
that keep the person typical. Optionally the nearest verified
desired-class people follow as their changes from this person. The answer is the compact set
of changes as JSON, features in prompt order, values written as in the schema
(:func:`~sensecf.generators.llm.schema.plain_number`).

A missing value is written ``NA`` (in a feature line and in an example), and
:meth:`CompactFormat.read_user_text` reads it back as NaN. A feature nobody measured for the
person is not in play, so a prompt the generator writes never lists one; a complete row's
prompt is the same text as before ``NA`` existed.

The same values are the schema's ``enum`` at inference, so a grammar-constrained answer is
admissible by construction, and a teacher's target is kept only when every value it changes is
one the prompt offers (:meth:`CompactFormat.fits`).

>>> fmt = CompactFormat(target="high stress", examples=1)
>>> ctx = PromptInput(proba=0.81, needed=0.5, offered={"sleep": [410, 445, 480], "steps": [4200, 8000]},
...                   alone=1, examples=[{"steps": 8000}])
>>> print(fmt.user_text(ctx))
P(high stress) 0.81, goal below 0.50
sleep 410: 445 480
together:
steps 4200: 8000
near: {"steps": 8000}
>>> fmt.answer_text({"sleep": 445})
'{"sleep": 445}'
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sensecf.errors import SensecfError
from sensecf.llm.artifacts import FORMAT
from sensecf.llm.base import Messages

FORMAT_VERSION = 2
# The revision of how a typical format's lines are chosen (the text is the format's own): pairs
# made under an earlier one are made anew, not reused. 2: pairs of changes for a person no
# single typical change serves; 3: the exact program's plausible answers for them instead.
TYPICAL_LINES = 3
SYSTEM = "Fewest changes that reach the goal, as JSON."
# How a missing value is written: short, one token or two, and not a number a model copies.
MISSING = "NA"
_HEAD = re.compile(r"^P\((?P<target>.*)\) (?P<proba>\S+), goal below (?P<needed>\S+)$")
# A JSON value that stands for a missing one (as ``json.dumps`` writes it, or as written here).
_MISSING_VALUE = re.compile(r"(?<=: )(?:null|NaN|NA)(?=, |\})")

Number = int | float


@dataclass
class PromptInput:
    """One request's content: ``proba`` of the flagged class now, the probability it must go
    below (``needed``), per feature in play its current value then its offered values
    (``offered``, in prompt order), how many of those features come first because they reach
    the goal on their own (``alone``; ``None``: all of them), and examples as changes
    (name → value)."""

    proba: float
    needed: float
    offered: dict[str, list[Number]]
    alone: int | None = None
    examples: list[dict[str, Number | None]] = field(default_factory=list)


@dataclass
class CompactFormat:
    """The fine-tune's prompt/answer format (saved as ``format.json`` in the model folder).

    ``target``: the flagged class's name as the prompt says it. ``examples``: nearest verified
    desired-class people shown as changes (0: none). ``max_values``: values listed per feature
    (besides the examples' own). ``max_features``: feature lines per prompt (those that reach
    the goal alone; the features that only help when none does). Digits are
    one token each in SmolLM2's vocabulary, so every value shown costs 3-5 tokens: the defaults
    keep a prompt near 100 tokens. ``system``: the system message. ``typical``: the lines
    offer only values that also keep the person typical of the desired class (the plausibility
    detector's bar, moved to ``typical_rate`` of held-out real rows where set, with a neighbour
    bar over ``typical_neighbours`` nearest real rows where set). A person no such single
    change serves is offered, after ``together:``, the changes of the exact program's
    answers held to the same bar (the plausible oracle's fewest changes that reach the goal
    and keep them typical, its first answer's first), and where it finds none, the plain
    single changes: how a model taught by a plausible teacher is asked, at training and
    when served alike. For those people the model reads the oracle's answer off its prompt.
    """

    target: str = "flagged"
    examples: int = 0
    max_values: int = 3
    max_features: int = 6
    system: str = SYSTEM
    version: int = FORMAT_VERSION
    typical: bool = False
    typical_rate: float | None = None
    typical_neighbours: int | None = None

    def __post_init__(self) -> None:
        for label, value, least in (
            ("examples", self.examples, 0),
            ("max_values", self.max_values, 1),
            ("max_features", self.max_features, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise SensecfError(f"format `{label}` must be an integer ≥ {least}; got {value!r}")

    # ---- text ---------------------------------------------------------------------------------
    def user_text(self, ctx: PromptInput) -> str:
        """The user message: the goal, one line per feature in play, the examples."""
        lines = [f"P({self.target}) {ctx.proba:.2f}, goal below {ctx.needed:.2f}"]
        alone = len(ctx.offered) if ctx.alone is None else ctx.alone
        for k, (name, values) in enumerate(ctx.offered.items()):
            if k == alone:
                lines.append("together:")
            current, *others = values
            lines.append(f"{name} {_num(current)}: " + " ".join(_num(v) for v in others))
        for row in ctx.examples[: self.examples]:
            lines.append("near: " + _json(row))
        return "\n".join(lines)

    def read_user_text(self, text: str) -> PromptInput:
        """A user message read back into what it shows (to inspect saved pairs): the inverse
        of :meth:`user_text` up to its two-decimal probabilities; ``NA`` reads as NaN.

        >>> fmt = CompactFormat(target="high stress", examples=1)
        >>> ctx = fmt.read_user_text("P(high stress) 0.81, goal below 0.50\\nhr NA: 60\\n"
        ...                          'near: {"hr": 60, "spo2": NA}')
        >>> ctx.offered, ctx.examples
        ({'hr': [nan, 60]}, [{'hr': 60, 'spo2': nan}])
        >>> fmt.user_text(ctx).splitlines()[1:]
        ['hr NA: 60', 'near: {"hr": 60, "spo2": NA}']
        """
        lines = text.splitlines()
        head = _HEAD.match(lines[0]) if lines else None
        if head is None or head["target"] != self.target:
            first = lines[0] if lines else ""
            raise SensecfError(
                f"a compact prompt starts 'P({self.target}) <p>, goal below <p>'; got {first!r}"
            )
        offered: dict[str, list[Number]] = {}
        alone: int | None = None
        examples: list[dict[str, Number | None]] = []
        for line in lines[1:]:
            if line == "together:":
                alone = len(offered)
            elif line.startswith("near: "):
                examples.append(json.loads(_MISSING_VALUE.sub("NaN", line[len("near: ") :])))
            else:
                name_and_current, sep, rest = line.partition(":")
                name, _, current = name_and_current.rpartition(" ")
                if not sep or not name:
                    raise SensecfError(
                        f"a compact feature line reads '<name> <current>: <values>'; got {line!r}"
                    )
                offered[name] = [_read_num(v) for v in [current, *rest.split()]]
        return PromptInput(float(head["proba"]), float(head["needed"]), offered, alone, examples)

    def messages(self, ctx: PromptInput) -> Messages:
        """System and user messages of one request."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user_text(ctx)},
        ]

    def answer_text(self, changes: Mapping[str, Number | None]) -> str:
        """The target answer: the changes as one JSON object.

        >>> CompactFormat().answer_text({"a": 1, "b": 2.5})
        '{"a": 1, "b": 2.5}'
        """
        return _json(changes)

    @staticmethod
    def fits(changes: Mapping[str, Number | None], offered: Mapping[str, Sequence[Number]]) -> bool:
        """Whether every changed value is one the prompt offers for its feature (not the current).

        >>> CompactFormat.fits({"a": 3}, {"a": [1, 3]}), CompactFormat.fits({"a": 2}, {"a": [1, 3]})
        (True, False)
        """
        return bool(changes) and all(
            name in offered and value in list(offered[name])[1:] for name, value in changes.items()
        )

    # ---- files --------------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``format.json`` into ``folder``; its path."""
        path = Path(folder) / FORMAT
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> CompactFormat:
        """Read ``format.json`` from a fine-tuned model folder.

        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> _ = CompactFormat(target="x", examples=0).save(folder)
        >>> CompactFormat.load(folder).examples
        0
        """
        path = Path(folder) / FORMAT
        if not path.is_file():
            raise SensecfError(
                f"{folder} is not a fine-tuned model folder: no {FORMAT} "
                "(write one with `sensecf finetune`)"
            )
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("version") != FORMAT_VERSION:
            raise SensecfError(
                f"{path}: format version {FORMAT_VERSION} expected; got {data.get('version')!r}"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise SensecfError(f"{path}: unknown keys {unknown}; expected {sorted(known)}")
        return cls(**data)


def _num(value: Number | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return json.dumps(value)


def _read_num(text: str) -> Number:
    if text == MISSING:
        return math.nan
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SensecfError(f"a compact value is a number or {MISSING}; got {text!r}")
    return value


def _json(row: Mapping[str, Number | None]) -> str:
    return _MISSING_VALUE.sub(MISSING, json.dumps(dict(row), separators=(", ", ": ")))
