"""The functions of a detector card: a response or efficiency as a function of an object's pT,
eta and energy (GeV), in one of four forms.

``constant``  ``{form: constant, value: 0.7}``
``binned``    ``{form: binned, variable: pt|abs_eta|energy, edges: [...], values: [...], underflow, overflow}``:
              bins [e_i, e_i+1); below the first edge ``underflow`` (default: the first value), at or
              above the last ``overflow`` (default: the last value).
``binned2d``  ``{form: binned2d, x: VAR, y: VAR, x_edges: [...], y_edges: [...], values: [[...], ...]}``:
              one row per y bin, clamped at both ends of both axes.
``formula``   ``{form: formula, expression: "0.8885 - 0.138 * exp(1 - pt / 27.45)"}``: the variables
              ``pt eta abs_eta energy``, numbers, ``+ - * / **``, unary minus, comparisons (1 or 0),
              ``&`` and ``sqrt exp log tanh abs minimum maximum where``. The expression is parsed once
              with :mod:`ast` and turned into numpy calls; anything else (other names, attributes,
              subscripts, keywords, strings) is refused when the card is loaded, so a card can never run
              code.

Every function is called as ``f(pt, eta, energy)`` on numpy arrays of equal shape and returns an
array of that shape.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..objects.binned import binned

VARIABLES = ("pt", "eta", "abs_eta", "energy")
TABLE_VARIABLES = ("pt", "abs_eta", "energy")
FORMS = ("constant", "binned", "binned2d", "formula")
UNITS = {"pt": " GeV", "energy": " GeV", "eta": "", "abs_eta": ""}

_CALLS: dict[str, tuple[Callable, int]] = {
    "sqrt": (np.sqrt, 1), "exp": (np.exp, 1), "log": (np.log, 1), "tanh": (np.tanh, 1), "abs": (np.abs, 1),
    "minimum": (np.minimum, 2), "maximum": (np.maximum, 2), "where": (lambda c, a, b: np.where(c != 0, a, b), 3),
}
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.Pow: np.power,
           ast.BitAnd: lambda a, b: ((a != 0) & (b != 0)).astype(np.float64)}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}

Evaluator = Callable[[Mapping[str, np.ndarray]], Any]


class FunctionError(ValueError):
    """A function specification that is not valid; ``field`` is the key at fault (relative to the
    function), the message says why."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _variables(pt: np.ndarray, eta: np.ndarray, energy: np.ndarray) -> dict[str, np.ndarray]:
    return {"pt": pt, "eta": eta, "abs_eta": np.abs(eta), "energy": energy}


@dataclass(frozen=True)
class Constant:
    value: float
    source: str

    def __call__(self, pt, eta, energy) -> np.ndarray:
        return np.full(np.shape(pt), self.value, dtype=np.float64)

    def table(self) -> list[tuple[str, float]]:
        return [("value", self.value)]


@dataclass(frozen=True)
class Binned:
    variable: str
    edges: tuple[float, ...]
    values: tuple[float, ...]
    underflow: float
    overflow: float
    source: str

    def __call__(self, pt, eta, energy) -> np.ndarray:
        x = np.abs(eta) if self.variable == "abs_eta" else (pt if self.variable == "pt" else energy)
        return binned(np.asarray(x, dtype=np.float64), self.edges, self.values, self.underflow, self.overflow)

    def table(self) -> list[tuple[str, float]]:
        """(where, value) for every number the function can return."""
        var, unit = self.variable, UNITS[self.variable]
        out = [(f"{var} < {self.edges[0]:g}{unit} (underflow)", self.underflow)]
        out += [(f"{var} in [{lo:g}, {hi:g}){unit} (values[{k}])", v)
                for k, (lo, hi, v) in enumerate(zip(self.edges, self.edges[1:], self.values))]
        return out + [(f"{var} >= {self.edges[-1]:g}{unit} (overflow)", self.overflow)]


@dataclass(frozen=True)
class Binned2D:
    x: str
    y: str
    x_edges: tuple[float, ...]
    y_edges: tuple[float, ...]
    values: tuple[tuple[float, ...], ...]  # one row per y bin
    source: str

    def __call__(self, pt, eta, energy) -> np.ndarray:
        variables = _variables(np.asarray(pt, dtype=np.float64), np.asarray(eta, dtype=np.float64),
                               np.asarray(energy, dtype=np.float64))
        ix = _clamped_bin(variables[self.x], self.x_edges)
        iy = _clamped_bin(variables[self.y], self.y_edges)
        return np.asarray(self.values, dtype=np.float64)[iy, ix]

    def table(self) -> list[tuple[str, float]]:
        out = []
        for j, row in enumerate(self.values):
            for i, v in enumerate(row):
                out.append((f"{self.x} in [{self.x_edges[i]:g}, {self.x_edges[i + 1]:g}){UNITS[self.x]}, {self.y} in "
                            f"[{self.y_edges[j]:g}, {self.y_edges[j + 1]:g}){UNITS[self.y]} (values[{j}][{i}])", v))
        return out


def _clamped_bin(x: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    return np.clip(np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="right") - 1, 0, len(edges) - 2)


@dataclass(frozen=True)
class Formula:
    expression: str
    source: str
    evaluate: Evaluator

    def __call__(self, pt, eta, energy) -> np.ndarray:
        pt = np.asarray(pt, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = self.evaluate(_variables(pt, np.asarray(eta, dtype=np.float64), np.asarray(energy, dtype=np.float64)))
        return np.broadcast_to(np.asarray(out, dtype=np.float64), pt.shape).copy()

    def table(self) -> list[tuple[str, float]]:
        return []  # checked on a grid instead


Function = Constant | Binned | Binned2D | Formula


# -- parsing -----------------------------------------------------------------------------------------


def parse(spec: Mapping[str, Any]) -> Function:
    """A function from its card mapping (already checked against the schema for its keys and
    types); a :class:`FunctionError` for edges that do not increase, value counts that do not
    match the edges, or a formula outside the whitelist."""
    form, source = spec["form"], spec["source"]
    if form == "constant":
        return Constant(float(spec["value"]), source)
    if form == "binned":
        edges = _edges(spec["edges"], "edges")
        values = tuple(float(v) for v in spec["values"])
        if len(values) != len(edges) - 1:
            raise FunctionError(f"{len(values)} values for {len(edges)} edges (need {len(edges) - 1})", "values")
        return Binned(spec["variable"], edges, values, float(spec.get("underflow", values[0])),
                      float(spec.get("overflow", values[-1])), source)
    if form == "binned2d":
        x_edges, y_edges = _edges(spec["x_edges"], "x_edges"), _edges(spec["y_edges"], "y_edges")
        rows = tuple(tuple(float(v) for v in row) for row in spec["values"])
        if len(rows) != len(y_edges) - 1:
            raise FunctionError(f"{len(rows)} rows for {len(y_edges)} y_edges (need one row per y bin, "
                                f"{len(y_edges) - 1})", "values")
        for j, row in enumerate(rows):
            if len(row) != len(x_edges) - 1:
                raise FunctionError(f"{len(row)} values for {len(x_edges)} x_edges (need {len(x_edges) - 1})",
                                    f"values[{j}]")
        if spec["x"] == spec["y"]:
            raise FunctionError(f"x and y are both {spec['x']}", "y")
        return Binned2D(spec["x"], spec["y"], x_edges, y_edges, rows, source)
    return Formula(spec["expression"], source, compile_formula(spec["expression"]))


def _edges(raw: Sequence[float], field: str) -> tuple[float, ...]:
    edges = tuple(float(e) for e in raw)
    if len(edges) < 2:
        raise FunctionError("need at least two edges", field)
    for k, (lo, hi) in enumerate(zip(edges, edges[1:])):
        if not hi > lo:
            raise FunctionError(f"not strictly increasing ({hi:g} after {lo:g} at index {k + 1})", field)
    return edges


def compile_formula(expression: str) -> Evaluator:
    """``expression`` as a function of a mapping of variable arrays, built from numpy calls only;
    a :class:`FunctionError` (field ``expression``) for anything outside the whitelist.

    >>> f = compile_formula("0.5 * (pt > 20) + where(abs_eta < 2.5, 0.1, 0)")
    >>> f({"pt": np.array([10.0, 30.0]), "abs_eta": np.array([1.0, 3.0])}).tolist()
    [0.1, 0.5]
    >>> compile_formula("__import__('os')")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    recast.detector.functions.FunctionError: call of __import__ not allowed (functions: sqrt, exp, ...)
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise FunctionError(f"not a valid expression: {exc.msg}", "expression") from None
    return _compile(tree.body)


def _compile(node: ast.AST) -> Evaluator:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise FunctionError(f"{node.value!r} is not a number", "expression")
        value = float(node.value)
        return lambda v: value
    if isinstance(node, ast.Name):
        if node.id not in VARIABLES:
            raise FunctionError(f"unknown name {node.id!r} (variables: {', '.join(VARIABLES)})", "expression")
        name = node.id
        return lambda v: v[name]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _compile(node.operand)
        return (lambda v: -inner(v)) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        op, left, right = _BINARY[type(node.op)], _compile(node.left), _compile(node.right)
        return lambda v: op(left(v), right(v))
    if isinstance(node, ast.Compare):
        if not all(type(o) in _COMPARE for o in node.ops):
            raise FunctionError("only the comparisons < <= > >= are allowed", "expression")
        operands = [_compile(node.left)] + [_compile(c) for c in node.comparators]
        ops = [_COMPARE[type(o)] for o in node.ops]

        def compare(v):  # a chain a < b < c means (a < b) & (b < c), as in Python
            values = [f(v) for f in operands]
            result = np.ones(np.shape(values[0]), dtype=bool)
            for op, lo, hi in zip(ops, values, values[1:]):
                result = result & op(lo, hi)
            return result.astype(np.float64)

        return compare
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        if name not in _CALLS:
            raise FunctionError(f"call of {name} not allowed (functions: {', '.join(_CALLS)})", "expression")
        fn, arity = _CALLS[name]
        if node.keywords or len(node.args) != arity or any(isinstance(a, ast.Starred) for a in node.args):
            raise FunctionError(f"{name} takes {arity} positional argument{'s' if arity > 1 else ''}", "expression")
        args = [_compile(a) for a in node.args]
        return lambda v: fn(*(a(v) for a in args))
    raise FunctionError(f"{ast.unparse(node)!r} is not allowed (numbers, {', '.join(VARIABLES)}, + - * / **, "
                        f"comparisons, &, and {', '.join(_CALLS)})", "expression")
