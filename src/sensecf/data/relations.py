"""Relations between features: derived features and checks that must hold.

A spec's ``relations`` say how features hang together, so that a counterfactual never states
numbers that cannot all be true at once:

- **derived**: a feature computed from others by a formula over feature names
  (``sleep_total_min = sleep_deep_min + sleep_light_min + sleep_rem_min``). A generator never
  proposes it: it is recomputed from its inputs after every proposal (:func:`recompute`).
- **check**: an inequality or equality over features that must hold, within ``tolerance``
  (``cgm_tbr54 <= cgm_tbr70``, ``active_min + sedentary_min <= 1440``). Its ``kind`` is
  ``order`` when each side is one feature, else ``sum``.

Formulas are read by a small evaluator of their own: the text is parsed with :mod:`ast` and
only numbers, feature names, ``+ - * / **``, parentheses and ``abs``/``min``/``max`` are
accepted; nothing is ever passed to ``eval``. Evaluation is vectorised over rows. The spec
holds its relations (``DatasetSpec.relations``); applying them to rows of a spec (recomputing
derived features, counting broken relations) is in :mod:`sensecf.data.constraints`.

>>> r = Relation(derived="total", formula="deep + light")
>>> r.kind, r.inputs
('derived', ('deep', 'light'))
>>> evaluate("100 * a / (a + b)", {"a": np.array([30.0]), "b": np.array([10.0])}).tolist()
[75.0]
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

RelationKind = Literal["derived", "order", "sum"]

# Floating-point noise under which two sides of a relation count as equal.
RELATION_RTOL = 1e-9
_BINARY: dict[type, Any] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
}
_UNARY: dict[type, Any] = {ast.USub: np.negative, ast.UAdd: np.positive}
_FUNCTIONS: dict[str, tuple[Any, int]] = {
    "abs": (np.abs, 1),
    "min": (np.minimum, 2),
    "max": (np.maximum, 2),
}
_COMPARISONS: dict[type, str] = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "=="}


class ExpressionError(ValueError):
    """A formula that is not plain arithmetic over feature names."""


def parse_expression(text: str) -> ast.expr:
    """Parse ``text`` as arithmetic over names; raise :class:`ExpressionError` otherwise.

    >>> sorted(names_in(parse_expression("3.31 + 0.02392 * cgm_mean")))
    ['cgm_mean']
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    sensecf.data.relations.ExpressionError: '__import__' is not a function a formula may call (abs, min, max)
    """
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("a formula must be a non-empty string")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{text!r} is not a formula: {exc.msg}") from None
    _check_node(tree.body, text)
    return tree.body


def _check_node(node: ast.AST, text: str) -> None:
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed in {text!r}")
        _check_node(node.left, text)
        _check_node(node.right, text)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed in {text!r}")
        _check_node(node.operand, text)
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"{value!r} in {text!r} is not a number")
    elif isinstance(node, ast.Name):
        pass
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        if name not in _FUNCTIONS or node.keywords:
            raise ExpressionError(
                f"{name!r} is not a function a formula may call ({', '.join(_FUNCTIONS)})"
            )
        arity = _FUNCTIONS[name][1]
        if len(node.args) < arity or (arity == 1 and len(node.args) != 1):
            raise ExpressionError(f"{name}() in {text!r} needs {arity} argument(s)")
        for arg in node.args:
            _check_node(arg, text)
    else:
        raise ExpressionError(f"{ast.unparse(node)!r} is not arithmetic (in {text!r})")


def names_in(node: ast.AST) -> set[str]:
    """The feature names a parsed formula reads (function names excluded)."""
    called = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in called}


def evaluate(formula: str | ast.AST, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate a formula on columns of values (a division by zero gives NaN or infinity).

    >>> evaluate("max(a, b) - 1", {"a": np.array([1.0, 5.0]), "b": np.array([2.0, 3.0])}).tolist()
    [1.0, 4.0]
    """
    node = parse_expression(formula) if isinstance(formula, str) else formula
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(_eval(node, values), dtype=float)


def _eval(node: ast.AST, values: Mapping[str, np.ndarray]) -> Any:
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, values))
    # _check_node has let through only numeric constants and calls of a named function.
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise ExpressionError(f"unknown name {node.id!r}")
        return np.asarray(values[node.id], dtype=float)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        function = _FUNCTIONS[node.func.id][0]
        args = [_eval(a, values) for a in node.args]
        out = args[0] if function is not np.abs else function(args[0])
        for arg in args[1:]:
            out = function(out, arg)
        return out
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)!r}")


class Relation(BaseModel):
    """One relation: ``derived`` + ``formula`` (a computed feature) or ``check`` (must hold).

    ``tolerance`` is how far a check may miss (absolute, in the features' units).

    >>> Relation(check="tbr54 <= tbr70").kind
    'order'
    >>> Relation(check="tir + tbr70 + tar180 == 100", tolerance=0.5).kind
    'sum'
    >>> Relation(derived="total", formula="total + 1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Relation
    ...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    derived: str | None = None
    formula: str | None = None
    check: str | None = None
    tolerance: float = 0.0

    @field_validator("tolerance")
    @classmethod
    def _tolerance_ok(cls, value: float) -> float:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"tolerance must be a number >= 0; got {value}")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Relation:
        if self.check is not None:
            if self.derived is not None or self.formula is not None:
                raise ValueError(
                    "a relation is either `derived` + `formula` or a `check`, not both"
                )
            _ = self._sides  # parses and validates
        elif self.derived is None or self.formula is None:
            raise ValueError(
                "a relation needs `derived` (a feature) and `formula`, or a `check`; "
                f"got {self.model_dump(exclude_defaults=True)}"
            )
        else:
            node = _parse(self.formula)
            if self.derived in names_in(node):
                raise ValueError(f"{self.derived!r} cannot be computed from itself")
        return self

    @cached_property
    def _sides(self) -> tuple[ast.expr, str, ast.expr]:
        text = str(self.check)
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"{text!r} is not a check: {exc.msg}") from None
        body = tree.body
        if (
            not isinstance(body, ast.Compare)
            or len(body.ops) != 1
            or type(body.ops[0]) not in _COMPARISONS
        ):
            raise ValueError(f"a check compares two sides with <=, >= or ==; got {text!r}")
        left, right = _parse(ast.unparse(body.left)), _parse(ast.unparse(body.comparators[0]))
        return left, _COMPARISONS[type(body.ops[0])], right

    @cached_property
    def _formula(self) -> ast.expr:
        return _parse(str(self.formula))

    @property
    def kind(self) -> RelationKind:
        """``derived``; ``order`` (one feature on each side); or ``sum`` (any other check)."""
        if self.derived is not None:
            return "derived"
        left, _, right = self._sides
        single = isinstance(left, ast.Name) and isinstance(right, ast.Name)
        return "order" if single else "sum"

    @property
    def inputs(self) -> tuple[str, ...]:
        """The features the relation reads (for ``derived``: those it is computed from)."""
        if self.derived is not None:
            found = names_in(self._formula)
        else:
            left, _, right = self._sides
            found = names_in(left) | names_in(right)
        return tuple(sorted(found))

    @property
    def features(self) -> tuple[str, ...]:
        """Every feature the relation involves (the derived one included)."""
        return tuple(sorted({*self.inputs, *([self.derived] if self.derived else [])}))

    @property
    def label(self) -> str:
        """How messages name it: its ``name``, else its text."""
        return self.name or self.text

    @property
    def text(self) -> str:
        """The relation as one line (``derived = formula``, or the check)."""
        return f"{self.derived} = {self.formula}" if self.derived else str(self.check)

    def compute(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """A derived relation's value from its inputs."""
        if self.derived is None:
            raise ValueError(f"relation {self.label!r} is a check, not a derived feature")
        return evaluate(self._formula, values)

    def holds(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per row: the relation holds (derived: the stored value equals the formula's).

        A row missing one of the relation's values (NaN) cannot be judged, and counts as
        holding: an unmeasured stream breaks nothing.

        >>> Relation(check="a <= b").holds({"a": np.array([1.0, 3.0, np.nan]),
        ...                                 "b": np.array([2.0, 2.0, 2.0])}).tolist()
        [True, False, True]
        """
        if self.derived is not None:
            left = np.asarray(values[self.derived], dtype=float)
            right, op = self.compute(values), "=="
        else:
            left_node, op, right_node = self._sides
            left, right = evaluate(left_node, values), evaluate(right_node, values)
        left, right = np.broadcast_arrays(left, right)
        slack = self.tolerance + RELATION_RTOL * np.maximum(
            1.0, np.maximum(np.abs(left), np.abs(right))
        )
        unknown = np.isnan(left) | np.isnan(right)
        with np.errstate(invalid="ignore"):
            if op == "<=":
                return unknown | (left - right <= slack)
            if op == ">=":
                return unknown | (right - left <= slack)
            return unknown | (np.abs(left - right) <= slack)

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, as plain YAML values."""
        data: dict[str, Any] = {}
        if self.name:
            data["name"] = self.name
        if self.derived is not None:
            data["derived"] = self.derived
            data["formula"] = self.formula
        else:
            data["check"] = self.check
        if self.tolerance:
            data["tolerance"] = self.tolerance
        return data


def _parse(text: str) -> ast.expr:
    try:
        return parse_expression(text)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None


def check_relations(relations: Sequence[Relation], feature_names: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the relation when it reads an unknown feature, a feature is
    derived twice, or derived features depend on each other in a circle."""
    known = set(feature_names)
    derived_by: dict[str, Relation] = {}
    for relation in relations:
        unknown = sorted(set(relation.features) - known)
        if unknown:
            raise ValueError(
                f"relation {relation.label!r}: unknown feature(s) {unknown}; "
                "a relation may only name features of the spec"
            )
        if relation.derived is not None:
            if relation.derived in derived_by:
                raise ValueError(
                    f"relation {relation.label!r}: {relation.derived!r} is already derived by "
                    f"{derived_by[relation.derived].label!r}"
                )
            derived_by[relation.derived] = relation
    derivation_order(relations)


def derivation_order(relations: Sequence[Relation]) -> list[Relation]:
    """Derived relations ordered so that each one's inputs are computed before it."""
    pending = {r.derived: r for r in relations if r.derived is not None}
    order: list[Relation] = []
    done: set[str] = set()
    while pending:
        ready = [n for n, r in pending.items() if not (set(r.inputs) & set(pending))]
        if not ready:
            circle = sorted(pending)
            raise ValueError(f"relations derive {circle} from each other in a circle")
        for name in ready:
            order.append(pending.pop(name))
            done.add(name)
    return order


# ---- linearity analysis -------------------------------------------------------------------
class AffineForm(BaseModel):
    """``constant + sum(coefficients[name] * name)``: a formula that is affine in its features.

    >>> form = affine_form("100 - tbr70 - tar180")
    >>> form.constant, form.coefficients
    (100.0, {'tbr70': -1.0, 'tar180': -1.0})
    >>> float(form.value({"tbr70": 2.0, "tar180": 10.0}))
    88.0
    """

    model_config = ConfigDict(frozen=True)

    constant: float = 0.0
    coefficients: dict[str, float] = {}

    def plus(self, other: AffineForm, factor: float = 1.0) -> AffineForm:
        """``self + factor * other``."""
        coefficients = dict(self.coefficients)
        for name, value in other.coefficients.items():
            coefficients[name] = coefficients.get(name, 0.0) + factor * value
        kept = {n: v for n, v in coefficients.items() if v != 0.0}
        return AffineForm(constant=self.constant + factor * other.constant, coefficients=kept)

    def times(self, factor: float) -> AffineForm:
        """``factor * self``."""
        return AffineForm().plus(self, factor)

    @property
    def is_constant(self) -> bool:
        """No feature has a coefficient."""
        return not self.coefficients

    def value(self, values: Mapping[str, Any]) -> Any:
        """The form at the given feature values (arrays broadcast)."""
        total: Any = self.constant
        for name, coefficient in self.coefficients.items():
            total = total + coefficient * np.asarray(values[name], dtype=float)
        return total


def affine_form(formula: str | ast.AST) -> AffineForm | None:
    """The formula as an :class:`AffineForm` when it is affine in its features, else None.

    Products and quotients are affine only where one side is a number (a quotient's divisor);
    ``abs``, ``min``, ``max`` and powers count as affine only over numbers alone.

    >>> affine_form("3.31 + 0.02392 * cgm_mean").coefficients
    {'cgm_mean': 0.02392}
    >>> affine_form("(deep + light) / 2").coefficients
    {'deep': 0.5, 'light': 0.5}
    >>> affine_form("100 * sd / mean") is None
    True
    """
    node = parse_expression(formula) if isinstance(formula, str) else formula
    return _affine(node)


def _affine(node: ast.AST) -> AffineForm | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return AffineForm(constant=float(node.value))
    if isinstance(node, ast.Name):
        return AffineForm(coefficients={node.id: 1.0})
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        inner = _affine(node.operand)
        if inner is None:
            return None
        return inner.times(-1.0) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _affine(node.left), _affine(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left.plus(right)
        if isinstance(node.op, ast.Sub):
            return left.plus(right, -1.0)
        if isinstance(node.op, ast.Mult):
            if left.is_constant:
                return right.times(left.constant)
            return left.times(right.constant) if right.is_constant else None
        if isinstance(node.op, ast.Div):
            if right.is_constant and right.constant != 0:
                return left.times(1.0 / right.constant)
            return None
    if not names_in(node):  # numbers only (a power, abs/min/max of numbers)
        value = float(evaluate(node, {}))
        return AffineForm(constant=value) if math.isfinite(value) else None
    return None


def ratio_form(formula: str | ast.AST) -> tuple[AffineForm, AffineForm] | None:
    """``(numerator, denominator)``, both affine, when the formula is one affine form over
    another (a number times, divided by or added to such a quotient included); else None.

    >>> num, den = ratio_form("100 * total / (total + awake)")
    >>> num.coefficients, den.coefficients
    ({'total': 100.0}, {'total': 1.0, 'awake': 1.0})
    >>> ratio_form("deep + light") is None
    True
    """
    node = parse_expression(formula) if isinstance(formula, str) else formula
    if affine_form(node) is not None:
        return None
    return _ratio(node)


def _ratio(node: ast.AST) -> tuple[AffineForm, AffineForm] | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _ratio(node.operand)
        return None if inner is None else (inner[0].times(-1.0), inner[1])
    if not isinstance(node, ast.BinOp):
        return None
    left, right = _affine(node.left), _affine(node.right)
    if isinstance(node.op, ast.Div) and left is not None and right is not None:
        return left, right
    if isinstance(node.op, (ast.Mult, ast.Div)):
        number = right if right is not None and right.is_constant else None
        if isinstance(node.op, ast.Mult) and number is None and left is not None:
            number, inner = (left, _ratio(node.right)) if left.is_constant else (None, None)
        else:
            inner = _ratio(node.left)
        if number is None or inner is None:
            return None
        factor = number.constant if isinstance(node.op, ast.Mult) else 1.0 / number.constant
        return inner[0].times(factor), inner[1]
    if isinstance(node.op, (ast.Add, ast.Sub)):
        sign = 1.0 if isinstance(node.op, ast.Add) else -1.0
        if right is not None and right.is_constant:
            inner = _ratio(node.left)
            if inner is None:
                return None
            return inner[0].plus(inner[1], sign * right.constant), inner[1]
        if left is not None and left.is_constant:
            inner = _ratio(node.right)
            if inner is None:
                return None
            return inner[0].times(sign).plus(inner[1], left.constant), inner[1]
    return None


def check_form(relation: Relation) -> tuple[AffineForm, str] | None:
    """A check as ``(left - right, op)`` when both sides are affine, else None.

    >>> form, op = check_form(Relation(check="active + sedentary <= 1500"))
    >>> form.constant, form.coefficients, op
    (-1500.0, {'active': 1.0, 'sedentary': 1.0}, '<=')
    """
    if relation.check is None:
        raise ValueError(f"relation {relation.label!r} is not a check")
    left, op, right = relation._sides
    left_form, right_form = _affine(left), _affine(right)
    if left_form is None or right_form is None:
        return None
    return left_form.plus(right_form, -1.0), op
