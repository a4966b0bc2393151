r"""A user's formula as a sympy expression, through an explicit whitelist and with bounded work.

Nothing a user writes is ever executed: Python syntax is read with :func:`ast.parse` (which
only builds a syntax tree), LaTeX with sympy's ``parse_latex`` (which builds unevaluated
sympy objects), and a sympy expression given from Python is taken apart the same way. Each
tree is then rebuilt node by node by :class:`FormulaBuilder`, which admits only

* numbers: integer and decimal literals (``0.1`` is exactly :math:`1/10`), at most
  :data:`MAX_LITERAL_DIGITS` digits in the numerator and in the denominator;
* names: the quantity's known symbols (the caller's table) and the constants ``pi``, ``E``
  (Euler's number) and ``I`` (:data:`CONSTANTS`);
* operators ``+``, ``-``, ``*``, ``/``, ``**`` (``^`` in both syntaxes), unary ``+``/``-``,
  parentheses;
* calls of the functions in :data:`FUNCTIONS` (``sqrt``, ``exp``, ``log``/``ln`` with an
  optional base, ``sin``, ``cos``, ``tan``, ``asin``, ``acos``, ``atan``, ``sinh``, ``cosh``,
  ``tanh``, ``abs``/``Abs``), positional arguments only; a call of a symbol name with one
  argument, e.g. ``B(2 - x)``, is a product (LaTeX's ``2B(2-x)`` parses that way).

Everything else is refused with a ``ValueError`` naming it: attribute access, subscripts,
keywords, strings, lambdas, comprehensions, containers, comparisons, other names and calls
(``eval``, ``chr``, ``getattr``, ``factorial``, ``N``, LaTeX's ``\operatorname{...}`` reads as
a product of unknown one-letter names, ``\int``, ``\sum``, ``\binom``, ``x!``, ...).

Bounds, checked while the tree is rebuilt and before any expensive step:

* :data:`MAX_CHARS` characters of text;
* :data:`MAX_NODES` syntax-tree nodes;
* :data:`MAX_DEPTH` levels of nesting, where a chain of ``+``/``-`` or of ``*``/``/`` counts
  as one level (a flat sum of thousands of terms is built as one ``Add``);
* numeric exponents :math:`p/q` with :math:`|p|, q \le` :data:`MAX_EXPONENT` (so a tower
  such as ``10**10**10`` is refused at its outer power);
* powers with a numeric exponent :math:`p/q` spend :math:`|p| - 1` times the size
  (:math:`\log_{10}|n| + \log_{10} d` of a number :math:`n/d`) of the largest number in their
  base, since sympy multiplies them out at once, from a budget of :data:`MAX_NUMBER_DIGITS`
  digits for the whole formula; every other number is a product or sum of literals, which
  have at most :data:`MAX_CHARS` digits in all (as the text has at most that many characters);
* every exact number of the result has at most :data:`MAX_NUMBER_DIGITS` digits (below
  Python's limit of 4300 digits for printing an integer);
* LaTeX: at most :data:`MAX_LATEX_CHARS` characters (sympy's LaTeX parser needs about 5 ms per
  term; a longer formula can be written in Python syntax).
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from collections.abc import Callable, Mapping

import sympy as sp
from sympy.core.function import AppliedUndef

from .._limits import (  # defined there: the CLI's help shows them without sympy
    MAX_CHARS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LATEX_CHARS,
    MAX_LITERAL_DIGITS,
    MAX_NODES,
    MAX_NUMBER_DIGITS,
)
from ._evaluate import EVALUABLE

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LATEX_CHARS",
    "MAX_LITERAL_DIGITS",
    "MAX_NODES",
    "MAX_NUMBER_DIGITS",
    "FormulaBuilder",
]

#: the constants a formula may name
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E, "I": sp.I}

#: name -> (sympy constructor, allowed numbers of arguments)
FUNCTIONS: dict[str, tuple[Callable[..., sp.Expr], tuple[int, ...]]] = {
    "sqrt": (sp.sqrt, (1,)),
    "exp": (sp.exp, (1,)),
    "log": (sp.log, (1, 2)),
    "ln": (sp.log, (1, 2)),
    "sin": (sp.sin, (1,)),
    "cos": (sp.cos, (1,)),
    "tan": (sp.tan, (1,)),
    "asin": (sp.asin, (1,)),
    "acos": (sp.acos, (1,)),
    "atan": (sp.atan, (1,)),
    "sinh": (sp.sinh, (1,)),
    "cosh": (sp.cosh, (1,)),
    "tanh": (sp.tanh, (1,)),
    "abs": (sp.Abs, (1,)),
    "Abs": (sp.Abs, (1,)),
}

#: sympy function classes a rebuilt formula can hold (sqrt is a power), by the name they are called with
_FUNCTION_CLASSES: dict[type, str] = {
    sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.asin: "asin", sp.acos: "acos",
    sp.atan: "atan", sp.sinh: "sinh", sp.cosh: "cosh", sp.tanh: "tanh", sp.Abs: "abs",
}

_ADDITIVE = (ast.Add, ast.Sub)
_MULTIPLICATIVE = (ast.Mult, ast.Div)
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _int_digits(n: int) -> int:
    """An upper bound on the decimal digits of the integer ``n`` (from its bit length, without printing it)."""
    return math.floor(abs(n).bit_length() * math.log10(2)) + 1


def _size(value: sp.Rational) -> float:
    """:math:`\\log_{10}|p| + \\log_{10} q` of :math:`p/q`: a product's size is at most the sum of its factors' sizes."""
    return math.log10(abs(int(value.p)) or 1) + math.log10(int(value.q))


class FormulaBuilder:
    """Rebuilds a parsed formula from whitelisted parts, spending the bounds of the module docstring.

    ``names``: the known symbols, by every accepted spelling (the caller normalises LaTeX
    spellings such as ``h_{i}`` with ``normalise``). One builder reads one formula.
    """

    def __init__(self, names: Mapping[str, sp.Symbol], normalise: Callable[[str], str] = str) -> None:
        self.names = names
        self.normalise = normalise
        self.nodes = 0
        self.digits = 0.0
        self.literal_digits = 0

    # ------------------------------------------------------------------ pieces
    def _spend(self, digits: float, what: str) -> None:
        self.digits += digits
        if self.digits > MAX_NUMBER_DIGITS:
            raise ValueError(f"formula is too large: {what} would make numbers beyond {MAX_NUMBER_DIGITS} digits")

    def _visit(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ValueError(f"formula is too large: more than {MAX_NODES} syntax nodes")
        if depth > MAX_DEPTH:
            raise ValueError(f"formula is nested too deeply: more than {MAX_DEPTH} levels")

    def number(self, value: sp.Rational) -> sp.Rational:
        """A literal: at most MAX_LITERAL_DIGITS digits above and below the fraction bar."""
        digits = _int_digits(int(value.p)), _int_digits(int(value.q))
        if max(digits) > MAX_LITERAL_DIGITS:
            raise ValueError(f"formula has a number literal longer than {MAX_LITERAL_DIGITS} digits")
        self.literal_digits += sum(digits)
        if self.literal_digits > MAX_CHARS:
            raise ValueError(f"formula is too large: its number literals have more than {MAX_CHARS} digits in all")
        return value

    def name(self, name: str) -> sp.Expr:
        key = self.normalise(name)
        if key in self.names:
            return self.names[key]
        if key in CONSTANTS:
            return CONSTANTS[key]
        allowed = sorted({n for n in self.names if n.isidentifier()} | set(CONSTANTS))
        raise ValueError(f"formula uses unknown name {_short(name)}; allowed names: {', '.join(allowed)}")

    def power(self, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        """``base**exponent``; a numeric exponent p/q needs |p|, q <= MAX_EXPONENT, and spends
        |p| - 1 times the size of the largest number in the base (sympy distributes integer
        powers; a reciprocal is as large as its base)."""
        if isinstance(exponent, sp.Rational):
            if max(abs(int(exponent.p)), int(exponent.q)) > MAX_EXPONENT:
                raise ValueError(f"formula has an exponent {_short(exponent)} beyond the bound: numerator and "
                                 f"denominator at most {MAX_EXPONENT} in absolute value")
            numbers = [a for a in sp.preorder_traversal(base) if isinstance(a, sp.Rational)]
            self._spend(max(abs(int(exponent.p)) - 1, 0) * max(map(_size, numbers), default=0), "a power")
        return sp.Pow(base, exponent)

    def call(self, name: str, args: list[sp.Expr]) -> sp.Expr:
        if name in FUNCTIONS:
            constructor, arities = FUNCTIONS[name]
            if len(args) not in arities:
                raise ValueError(f"formula calls {name} with {len(args)} arguments; it takes "
                                 f"{' or '.join(map(str, arities))}")
            return constructor(*args)
        key = self.normalise(name)
        if key in self.names and len(args) == 1:
            return self.names[key] * args[0]
        raise ValueError(f"formula calls {_short(name)}, which is not an allowed function; allowed: {', '.join(FUNCTIONS)}")

    # ------------------------------------------------------------------ Python syntax
    def from_python(self, text: str) -> sp.Expr:
        """Python syntax (``^`` is a power), read by :func:`ast.parse` only.

        Python's own parser nests a chain ``a + b + c ...`` one level per operator and gives up
        (``RecursionError``) near 3000 levels, so a long text is first cut at its top-level
        ``+``/``-`` (then ``*``/``/``, then an enclosing pair of parentheses) into pieces that
        are parsed separately; every operator of lower precedence is refused anyway, so the
        cut never changes the meaning of an admitted formula.
        """
        _check_length(text)
        source = re.sub(r"\s+", " ", text.strip()).replace("^", "**")
        try:
            tokens = [tok for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.string.strip()]
        except (tokenize.TokenError, SyntaxError) as exc:
            raise ValueError(f"cannot parse formula {_short(text)} in sympy syntax: {exc.args[0]}") from None
        if len(tokens) > MAX_NODES:
            raise ValueError(f"formula is too large: {len(tokens)} tokens, at most {MAX_NODES}")
        return _checked(self._span(source, tokens, 0))

    def _span(self, source: str, tokens: list[tokenize.TokenInfo], depth: int) -> sp.Expr:
        self._visit(depth)
        if len(tokens) > _PIECE_TOKENS:
            for ops in ({"+", "-"}, {"*", "/"}):
                pieces = _split(tokens, ops)
                if len(pieces) > 1:
                    return self._combine([(op, self._span(source, piece, depth + 1)) for op, piece in pieces])
            if tokens[0].string == "(" and _closing(tokens, 0) == len(tokens) - 1:
                return self._span(source, tokens[1:-1], depth + 1)
        piece = source[tokens[0].start[1]: tokens[-1].end[1]] if tokens else ""
        try:
            tree = ast.parse(piece, mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"cannot parse formula {_short(source)} in sympy syntax: {exc.msg}") from None
        except (RecursionError, MemoryError, ValueError):
            raise ValueError(f"cannot parse formula {_short(source)}: nested too deeply") from None
        return self._python(tree.body, piece, depth)

    def _combine(self, parts: list[tuple[str, sp.Expr]]) -> sp.Expr:
        """``[("+", a), ("-", b), ...]`` as one Add, or ``[("*", a), ("/", b), ...]`` as one Mul."""
        if parts[0][0] in "+-":
            return sp.Add(*(-part if op == "-" else part for op, part in parts))
        return sp.Mul(*(self.power(part, sp.Integer(-1)) if op == "/" else part for op, part in parts))

    def _python(self, node: ast.AST, text: str, depth: int) -> sp.Expr:
        self._visit(depth)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            kind = _ADDITIVE if isinstance(node.op, _ADDITIVE) else _MULTIPLICATIVE
            return self._combine([(_OPERATORS[type(op)], self._python(n, text, depth + 1)) for op, n in _chain(node, kind)])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self.power(self._python(node.left, text, depth + 1), self._python(node.right, text, depth + 1))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self._python(node.operand, text, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return self.number(_literal(node, text))
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            return self.call(node.func.id, [self._python(a, text, depth + 1) for a in node.args])
        if isinstance(node, ast.Compare):
            raise ValueError(f"formula {_short(text)} is not a scalar expression (it is a comparison)")
        raise ValueError(f"formula {_short(text)} must be an arithmetic expression in the symbols and the functions "
                         f"{', '.join(FUNCTIONS)}; {_describe(node)} is not allowed")

    # ------------------------------------------------------------------ sympy trees (LaTeX, Python API)
    def from_latex(self, text: str) -> sp.Expr:
        """LaTeX, read by sympy's ``parse_latex`` into unevaluated objects, then rebuilt."""
        from sympy.parsing.latex import parse_latex

        if len(text) > MAX_LATEX_CHARS:
            raise ValueError(f"LaTeX formula is too long: {len(text)} characters, at most {MAX_LATEX_CHARS} "
                             f"(write a longer formula in sympy syntax)")
        _check_bracket_depth(text)
        try:
            parsed = parse_latex(text, strict=True)  # not strict, it drops what follows a syntax error
        except (RecursionError, MemoryError):
            raise ValueError(f"cannot parse formula {_short(text)} as LaTeX: nested too deeply") from None
        except Exception as exc:  # noqa: BLE001 - sympy's LaTeX parser raises its own exception types
            raise ValueError(f"cannot parse formula {_short(text)} as LaTeX: {str(exc).splitlines()[0]}") from None
        return self.from_sympy(parsed)

    def from_sympy(self, expr: sp.Basic) -> sp.Expr:
        """A sympy object, possibly unevaluated, rebuilt from whitelisted parts."""
        return _checked(self._sympy(expr, 0))

    def _sympy(self, expr: sp.Basic, depth: int) -> sp.Expr:
        self._visit(depth)
        if isinstance(expr, (sp.Add, sp.Mul)):
            parts = [self._sympy(a, depth + 1) for a in _sympy_chain(expr)]
            return sp.Add(*parts) if isinstance(expr, sp.Add) else sp.Mul(*parts)
        if isinstance(expr, sp.Pow):
            return self.power(self._sympy(expr.base, depth + 1), self._sympy(expr.exp, depth + 1))
        if isinstance(expr, sp.Rational):
            return self.number(expr)
        if isinstance(expr, sp.Float) and expr.is_finite:
            return self.number(sp.Rational(str(expr)))
        if isinstance(expr, sp.Symbol):
            return self.name(expr.name)
        if expr in CONSTANTS.values():
            return expr
        if isinstance(expr, AppliedUndef) or type(expr) in _FUNCTION_CLASSES:
            name = _FUNCTION_CLASSES.get(type(expr), type(expr).__name__)
            return self.call(name, [self._sympy(a, depth + 1) for a in expr.args])
        if isinstance(expr, (sp.Rel, sp.MatrixBase)) or not isinstance(expr, sp.Expr):
            raise ValueError(f"formula must be a scalar expression (no relation or matrix); got a {type(expr).__name__}")
        raise ValueError(f"formula may not contain {type(expr).__name__} ({_short(str(expr))}); allowed: numbers, "
                         f"the symbols, + - * / ^ and the functions {', '.join(FUNCTIONS)}")


def _checked(expr: sp.Expr) -> sp.Expr:
    """``expr`` if it is finite, holds only functions :func:`._evaluate.evaluate` knows (sympy may
    rewrite an allowed call, e.g. ``atan(I x)`` as ``I atanh(x)``), and none of its exact numbers has
    more than MAX_NUMBER_DIGITS digits."""
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ValueError(f"formula is not finite (it simplifies to {_short(expr)})")
    unknown = sorted({type(f).__name__ for f in expr.atoms(sp.Function) if type(f) not in EVALUABLE})
    if unknown:
        raise ValueError(f"formula simplifies to {_short(expr)}, with function(s) {', '.join(unknown)} that cannot be "
                         f"evaluated here; allowed: {', '.join(FUNCTIONS)}")
    for number in expr.atoms(sp.Rational):
        if max(_int_digits(int(number.p)), _int_digits(int(number.q))) > MAX_NUMBER_DIGITS:
            raise ValueError(f"formula is too large: it holds a number of more than {MAX_NUMBER_DIGITS} digits")
    return expr


def _check_length(text: str) -> None:
    if len(text) > MAX_CHARS:
        raise ValueError(f"formula is too long: {len(text)} characters, at most {MAX_CHARS}")


def _short(value: object, limit: int = 60) -> str:
    text = str(value) if isinstance(value, sp.Basic) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return f"a {type(node.value).__name__} constant"
    if isinstance(node, ast.Call):
        return "a call with keywords" if node.keywords else "a call of something other than a plain name"
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return f"the operator {type(node.op).__name__}"
    return f"{type(node).__name__}"


def _literal(node: ast.Constant, text: str) -> sp.Rational:
    """An int literal as is; a decimal literal exactly as written (``0.1`` is 1/10), not as its binary double."""
    if isinstance(node.value, int):
        return sp.Integer(node.value)
    if not math.isfinite(node.value):
        raise ValueError(f"formula has a number literal that is not finite: {_short(text)}")
    written = ast.get_source_segment(text, node) or repr(node.value)
    return sp.Rational(written.replace("_", ""))


#: longer texts are cut before ast.parse (see FormulaBuilder.from_python)
_PIECE_TOKENS = 500
_OPENING, _CLOSING = "([{", ")]}"


def _closing(tokens: list[tokenize.TokenInfo], i: int) -> int:
    """Index of the bracket closing the one at ``i`` (len(tokens) if none)."""
    level = 0
    for j in range(i, len(tokens)):
        level += (tokens[j].string in _OPENING) - (tokens[j].string in _CLOSING)
        if level == 0:
            return j
    return len(tokens)


def _split(tokens: list[tokenize.TokenInfo], ops: set[str]) -> list[tuple[str, list[tokenize.TokenInfo]]]:
    """``tokens`` cut at the binary operators ``ops`` outside brackets: ``[(op, piece), ...]``, the
    first piece with ``"+"``/``"*"`` before it. An operator is binary when an operand ends before it."""
    pieces, op, start, level = [], "+" if "+" in ops else "*", 0, 0
    for j, tok in enumerate(tokens):
        level += (tok.string in _OPENING) - (tok.string in _CLOSING)
        after_operand = j > 0 and (tokens[j - 1].type in (tokenize.NAME, tokenize.NUMBER) or tokens[j - 1].string in _CLOSING)
        if level == 0 and tok.string in ops and after_operand and j > start:
            pieces.append((op, tokens[start:j]))
            op, start = tok.string, j + 1
    pieces.append((op, tokens[start:]))
    return pieces


def _chain(node: ast.BinOp, ops: tuple[type, ...]) -> list[tuple[ast.operator, ast.AST]]:
    """The operands of a left-nested chain ``a op b op c ...`` with the operator before each
    (the first gets ``ops[0]``), collected without recursion."""
    items = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ops):
        items.append((node.op, node.right))
        node = node.left
    items.append((ops[0](), node))
    return items[::-1]


def _sympy_chain(expr: sp.Basic) -> list[sp.Basic]:
    """The operands of nested unevaluated ``Add`` (or ``Mul``) nodes of the same kind, without recursion."""
    kind, out, stack = type(expr), [], [expr]
    while stack:
        node = stack.pop()
        if type(node) is kind:
            stack.extend(reversed(node.args))
        else:
            out.append(node)
    return out


def _check_bracket_depth(text: str) -> None:
    """Refuse LaTeX nested deeper than :data:`MAX_DEPTH` braces, parentheses and brackets before
    parsing. Whether sympy's recursive parser fails on deep input depends on the interpreter's
    recursion limit and stack (a caller may have raised it), and what it returns may be already
    evaluated (150 nested fractions became one rational); the text's own nesting is the same everywhere."""
    depth = deepest = 0
    for ch in text:
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise ValueError(f"formula is nested too deeply: {deepest} levels of braces and brackets, at most {MAX_DEPTH}")
