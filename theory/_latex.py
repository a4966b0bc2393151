r"""LaTeX export in the paper's notation and canonical form, with a parse-back round trip for every formula.

Symbols print with :data:`nqm.theory.symbols.LATEX_NAMES` (:math:`\alpha, \beta, \gamma, h_i, c_i, B,
p, r_1, r_2`), except the start moment :math:`v_0 = \mathrm{E}\,\theta_i(0)^2`, whose name in
LATEX_NAMES does not parse back; it prints as :math:`s_0`, Appendix D's name for it
(:data:`PRINT_NAMES`).

Every formula prints in the paper's canonical form (:func:`canonical_form`, :func:`to_latex`):
sums that are factors lead with a positive term (:math:`(1 - \alpha h_i)^t`, positive
denominators :math:`2B(2 - \alpha h_i^{1-p})`, :math:`\alpha/(1 - \beta)`), terms over one
denominator are one fraction (Theorem 1's :math:`[r_1^t(r_1 - \beta) - r_2^t(r_2 - \beta)]/(r_1 - r_2)`),
polynomials in :math:`z` are collected in its powers, a root of a quadratic reads
:math:`(S \pm \sqrt{S^2 - 4P})/2` (eq. 7), a three-term sum groups two terms that share a
symbol as :math:`\pm m(1 - y)` (Theorem 2's :math:`1 + \gamma(1 - \alpha h_i)`), and a
condition :math:`s < 0` reads :math:`a < b`. sympy's ``parse_latex`` reads ``B \left(2 - x\right)``
as a call of a function B, so :func:`parse_formula` writes ``\cdot`` between a factor and an opening parenthesis
before parsing.

Every display line of the document (:func:`~nqm.theory.latex_document`) is a :class:`Formula`,
``label & formula``; a formula too long for the page continues on lines ``&\qquad ± term``,
broken before top-level signs (:attr:`Formula.line`). The formula (after an optional ``=``,
with its continuation lines joined back, :func:`formula_lines`) is what :func:`roundtrip`
parses back with ``sympy.parsing.latex.parse_latex`` and compares with its source symbolically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp
from sympy.printing.latex import LatexPrinter

from ._closed_form import _normal_radicals, same_closed_form
from ._spec import OptimizerSpec
from ._symbols import LATEX_NAMES, k, p, t, v0, z

__all__ = [
    "Formula",
    "LINE_UNITS",
    "PRINT_NAMES",
    "canonical_form",
    "latex_display",
    "formula_lines",
    "parse_formula",
    "roundtrip",
    "to_latex",
]

#: the names used in print: LATEX_NAMES, with v0 as Appendix D's s_0 (see the module docstring)
PRINT_NAMES: dict[sp.Symbol, str] = {**LATEX_NAMES, v0: "s_{0}"}

# a factor that ends in a letter, digit, brace or parenthesis, followed by an opening \left(
# (parse_formula writes \cdot there: parse_latex would read `B \left(2 - x\right)` as a call of B)
_JUXTAPOSED_PAREN = re.compile(r"(?<=[A-Za-z0-9}\)])\s*(?=\\left\()")
#: the size commands before delimiters, dropped before strict parsing (see _parse_latex)
_SIZED_DELIMITER = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_MATRIX = re.compile(r"^\\begin\{pmatrix\}(.*)\\end\{pmatrix\}$", re.S)
_ROOT_NAME = re.compile(r"r_\d+")
#: step indices: a sum of them and a number reads t + 1, 2t + 2 (numbers lead elsewhere: 1 - x)
_INDICES = frozenset({t, k})
_RELATIONS = {"<": sp.StrictLessThan, ">": sp.StrictGreaterThan, r"\leq": sp.LessThan, r"\geq": sp.GreaterThan}


# --------------------------------------------------------------------------- canonical form
def _negative(term: sp.Expr) -> bool:
    """A term of a sum is negative if its numeric coefficient is (``-2 x``, ``-\\frac{a}{b}``)."""
    return bool(term.as_coeff_Mul()[0].is_negative)


def _magnitude(term: sp.Expr) -> sp.Expr:
    return -term if _negative(term) else term


def _is_root(s: sp.Symbol) -> bool:
    return bool(_ROOT_NAME.fullmatch(s.name))


def _rank(term: sp.Expr) -> tuple:
    """Which term of a sum leads: the highest power of the transform variable z, then a number,
    then terms in the roots r_j alone, then terms with roots, then sympy's order."""
    free = term.free_symbols
    return (
        -_z_degree(term),
        not term.is_Number,
        not any(_is_root(s) for s in free),
        any(not _is_root(s) for s in free - _INDICES),
        sp.default_sort_key(_magnitude(term)),
    )


def _z_degree(term: sp.Expr) -> int:
    return int(sp.degree(term, z)) if z in term.free_symbols and term.is_polynomial(z) else 0


def _keeps_sign(s: sp.Add) -> bool:
    r"""True if the sum ``s`` reads as the paper writes it, False if :math:`-s` does: its leading
    term (:func:`_rank`) is positive.

    So :math:`z - \gamma`, :math:`2 - \alpha h_i`, :math:`1 - \beta`, :math:`1 + \beta - \alpha h_i`,
    :math:`r_1 - r_2`, :math:`r_1 - \beta`, :math:`r_1^{t+1} - r_2^{t+1} - \beta(r_1^t - r_2^t)`.
    Exactly one of :math:`s, -s` qualifies, whatever order sympy built ``s`` in.
    """
    return not _negative(min(s.args, key=_rank))


def _signed_factor(e: sp.Expr) -> tuple[sp.Rational, sp.Expr]:
    """``(number, factor)`` with ``number * factor == e``: a sum (or an integer power of one)
    without its numeric content (:math:`2 - 2\\alpha h_i = 2(1 - \\alpha h_i)`), and written the
    other way round where it reads better negated (:func:`_keeps_sign`)."""
    base, exp = e.as_base_exp()
    if not (base.is_Add and exp.is_Integer):
        return sp.S.One, e
    content, base = base.primitive()
    number = content**exp
    if not _keeps_sign(base):
        base, number = -base, (-number if int(exp) % 2 else number)
    return number, sp.Pow(base, exp)


def _canonical_signs(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` with every sum that is a factor written with the paper's sign (:func:`_keeps_sign`)
    and without numeric content (:func:`_signed_factor`).

    :math:`1/(r_2 - r_1)` and :math:`-1/(r_1 - r_2)` are the same number, and which one a
    derivation ends with can depend on the order in which sympy met its terms (which varies
    between processes). Choosing, for each such sum :math:`s`, the one of :math:`\pm s` that
    reads as the paper writes it gives positive denominators (:math:`2B(2 - \alpha h_i)`),
    :math:`1 - x` factors, and the same printed formula in every run.
    """

    def fix(e: sp.Expr) -> sp.Expr:
        args = e.args if e.is_Mul else (e,)
        parts = [_signed_factor(a) for a in args]
        if all(n == 1 and f is a for (n, f), a in zip(parts, args)):
            return e
        return sp.Mul(*(n for n, _ in parts)) * sp.Mul(*(f for _, f in parts))

    return sp.sympify(expr).replace(lambda e: e.is_Mul or e.is_Pow, fix)


def _by_denominator(terms: Iterable[sp.Expr]) -> list[list[sp.Expr]]:
    """``terms`` grouped by their denominator (terms without one stay alone), in order of first appearance."""
    groups: dict[sp.Expr, list[sp.Expr]] = {}
    for term in terms:
        den = sp.fraction(term)[1]
        groups.setdefault(den if den != 1 else sp.Dummy(), []).append(term)
    return list(groups.values())


def _over_denominator(members: list[sp.Expr]) -> tuple[bool, sp.Expr, sp.Expr]:
    """``(negative, numerator, denominator)`` of the sum of ``members`` (one common denominator),
    the numerator with the paper's sign and its common factors taken out."""
    numerator = sp.Add(*(sp.fraction(m)[0] for m in members))
    negative = bool(numerator.is_Add and not _keeps_sign(numerator))
    # factor_terms also factors inside roots; a radicand keeps its form S^2 - 4P (_quadratic_radicals)
    radicals = {r: sp.Dummy() for r in numerator.atoms(sp.Pow) if r.base.is_Add and not r.exp.is_Integer}
    numerator = sp.factor_terms((-numerator if negative else numerator).xreplace(radicals))
    numerator = _canonical_signs(numerator.xreplace({d: r for r, d in radicals.items()}))
    return negative, numerator, sp.fraction(members[0])[1]


def _join_fractions(expr: sp.Expr) -> sp.Expr:
    r"""Every sum with terms over one symbolic denominator :math:`D` written as one fraction over :math:`D`
    (numeric denominators are joined in print, :func:`_terms`, where sympy cannot undo it)."""

    def join(e: sp.Add) -> sp.Expr:
        out = []
        for members in _by_denominator(e.args):
            if len(members) == 1 or sp.fraction(members[0])[1].is_Number:
                out += members
            else:
                negative, numerator, den = _over_denominator(members)
                out.append((-1 if negative else 1) * numerator / den)
        return sp.Add(*out)

    return expr.replace(lambda e: e.is_Add, join)


def _collect_z(expr: sp.Expr) -> sp.Expr:
    """Every polynomial of degree >= 2 in the transform variable z collected in descending powers of z."""
    return expr.replace(
        lambda e: e.is_Add and z in e.free_symbols and e.is_polynomial(z) and sp.degree(e, z) >= 2,
        lambda e: sp.collect(e, z),
    )


def _combine_powers(expr: sp.Expr) -> sp.Expr:
    """Every product with several powers of one base written with one power (:math:`h_i^p h_i^{1-p} = h_i`)."""

    def repeated(e: sp.Basic) -> bool:
        bases = [f.as_base_exp()[0] for f in e.args]
        return len(set(bases)) < len(bases)

    return expr.replace(lambda e: e.is_Mul and repeated(e), lambda e: sp.powsimp(e, combine="exp"))


def _power_of_p(term: sp.Expr) -> sp.Expr | None:
    """``b**e`` if ``term`` is a number times a positive base to a power in the preconditioning power p."""
    coeff, rest = term.as_coeff_Mul()
    base, exp = rest.as_base_exp()
    return rest if base.is_Symbol and base.is_positive and exp.free_symbols == {p} else None


def _lead_with_a_number(expr: sp.Expr) -> sp.Expr:
    r"""Every sum without a number term but with a term :math:`a\,h_i^{e(p)}` written
    :math:`h_i^{e}(a + \dots)`: :math:`2h_i^p - \alpha h_i = h_i^p(2 - \alpha h_i^{1-p})` (eqs. 9-10)."""

    def lead(e: sp.Add) -> sp.Expr:
        power = next(f for f in map(_power_of_p, e.as_ordered_terms()) if f is not None)
        return power * sp.Add(*(sp.powsimp(a / power) for a in e.args))

    return expr.replace(
        lambda e: e.is_Add and not any(a.is_Number for a in e.args) and any(_power_of_p(a) is not None for a in e.args),
        lead,
    )


def _square_root_half(term: sp.Expr) -> tuple[sp.Expr, sp.Pow] | None:
    r"""``(m, sqrt(D))`` if ``term`` is :math:`\pm\frac12 m\sqrt{D}` with a positive product :math:`m`
    (often 1; :math:`h_i^{-p}` after preconditioning), else None."""
    coeff, rest = term.as_coeff_Mul()
    roots = [f for f in sp.Mul.make_args(rest) if f.is_Pow and f.exp == sp.S.Half]
    if abs(coeff) != sp.S.Half or len(roots) != 1 or not (rest / roots[0]).is_positive:
        return None
    return rest / roots[0], roots[0]


def _quadratic_radicals(expr: sp.Expr) -> sp.Expr:
    r"""Every root :math:`\frac{S \pm m\sqrt{D}}{2}` of a quadratic :math:`z^2 - Sz + P` with its
    discriminant written :math:`m^2 D = S^2 - 4P` (eq. 7's :math:`\sqrt{(1 + \beta - \alpha h_i)^2 - 4\beta}`),
    where :math:`P = (S^2 - m^2 D)/4` has fewer terms than :math:`m^2 D` multiplied out."""

    def compact(e: sp.Add) -> sp.Expr:
        radicals = [(a, r) for a in e.args if (r := _square_root_half(a)) is not None]
        if len(radicals) != 1:
            return e
        term, (m, root) = radicals[0]
        S = sp.factor(2 * (e - term))
        D = sp.expand(m**2 * root.base)
        P = sp.expand((S**2 - D) / 4)
        if P == 0 or len(sp.Add.make_args(P)) >= len(sp.Add.make_args(D)):
            return e
        return e - term + term / (m * root) * sp.sqrt(S**2 - 4 * sp.factor_terms(P))

    return expr.replace(lambda e: e.is_Add and any(_square_root_half(a) is not None for a in e.args), compact)


def _one_minus(e: sp.Expr) -> bool:
    r"""True if ``e`` is :math:`1 - y` for a product :math:`y` with a positive coefficient."""
    return e.is_Add and len(e.args) == 2 and sp.S.One in e.args and all(_negative(a) for a in e.args if a != 1)


def _group_shared_symbol(expr: sp.Expr) -> sp.Expr:
    r"""Every sum of three terms, two of which share a symbol :math:`s` (to the first power) and
    together are :math:`\pm m(1 - y)`, written with that product (Theorem 2's grouping):
    :math:`1 + \gamma - \alpha\gamma h_i = 1 + \gamma(1 - \alpha h_i)`,
    :math:`1 + \alpha\gamma h_i - \gamma = 1 - \gamma(1 - \alpha h_i)`,
    :math:`1 + \alpha\beta h_i\nu - \alpha h_i = 1 - \alpha h_i(1 - \beta\nu)`.
    Symbols are tried in name order; the first that gives a :math:`1 - y` cofactor is taken.
    Longer sums are left alone (partial groupings in them read worse, not better)."""

    def group(e: sp.Add) -> sp.Expr:
        for s in sorted(e.free_symbols - _INDICES, key=lambda s: s.name):
            shared = [a for a in e.args if a.as_powers_dict().get(s) == 1]
            if len(shared) != 2:
                continue
            number, factor = _signed_factor(sp.factor_terms(sp.Add(*shared)))
            common, cofactor = factor.as_independent(sp.Add) if factor.is_Mul else (sp.S.One, factor)
            if cofactor.is_Add and number.is_Number:
                number, cofactor = (number, cofactor) if _one_minus(cofactor) else (-number, -cofactor)
            if _one_minus(cofactor):
                return sp.Add(*(a for a in e.args if a not in shared)) + number * common * cofactor
        return e

    return expr.replace(lambda e: e.is_Add and len(e.args) == 3, group)


def canonical_form(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` rearranged (not changed in value) as the paper writes formulas.

    The discriminant of a root of a quadratic reads :math:`S^2 - 4P` (:func:`_quadratic_radicals`),
    powers of one base are combined (:func:`_combine_powers`), a sum leads with a number
    where a power :math:`h_i^{e(p)}` can be taken out (:func:`_lead_with_a_number`), polynomials in
    :math:`z` are collected in its powers (:math:`z^2 - (1 + \beta - \alpha h_i)z + \beta`),
    terms over one denominator are one fraction (Theorem 1's :math:`[\dots]/(r_1 - r_2)`,
    eq. 4's :math:`1 - (1 - \alpha h_i)^{2t}`), every sum that is a factor gets the paper's
    sign (:func:`_canonical_signs`), and two terms of a three-term sum that share a symbol
    are grouped as :math:`\pm m(1 - y)` (:func:`_group_shared_symbol`, Theorem 2's
    :math:`1 + \gamma(1 - \alpha h_i)`). :func:`to_latex` prints this form.
    """
    return _canonical_signs(_group_shared_symbol(_arranged(expr)))


def _arranged(expr: sp.Expr) -> sp.Expr:
    """:func:`canonical_form` without the grouping of :func:`_group_shared_symbol` (a condition
    is split into its sides before grouping, :func:`_relation_latex`)."""
    combined = _combine_powers(_quadratic_radicals(sp.sympify(expr)))
    joined = _join_fractions(_canonical_signs(_collect_z(_lead_with_a_number(combined))))
    return _canonical_signs(_combine_powers(joined))


@dataclass(frozen=True)
class _Term:
    """One printed term of a sum: its sign, and a magnitude or a fraction ``value/denominator``."""

    negative: bool
    value: sp.Expr
    denominator: sp.Expr | None = None


def _terms(expr: sp.Add) -> list[_Term]:
    r"""The terms of ``expr`` in the paper's order, terms over one numeric denominator as one fraction.

    Order: descending powers of :math:`z`; radicals last (eq. 7's :math:`1 + \beta - \alpha h_i + \sqrt{\dots}`);
    numbers first (:math:`1 - \alpha h_i`, :math:`2 + 2\beta - \alpha h_i`) except after step
    indices (:math:`t + 1`); terms in the roots :math:`r_j` alone, then with other symbols,
    then without roots (:math:`r_1^{t+1} - r_2^{t+1} - \beta(r_1^t - r_2^t)`); positive before
    negative terms; then sympy's order.
    """
    out = []
    for members in _by_denominator(expr.as_ordered_terms()):
        if len(members) == 1 or not sp.fraction(members[0])[1].is_Number:
            out += [_Term(_negative(m), _magnitude(m)) for m in members]
        else:
            out.append(_Term(*_over_denominator(members)))
    indexed = all(term.value.free_symbols <= _INDICES for term in out if not term.value.is_Number)

    def key(term: _Term) -> tuple:
        radical = any(e.is_Pow and e.exp.is_Rational and not e.exp.is_Integer for e in sp.Mul.make_args(term.value))
        number = 1 if not term.value.is_Number else 2 if indexed else 0
        free = term.value.free_symbols - _INDICES
        roots = 0 if free and all(_is_root(s) for s in free) else 1 if any(_is_root(s) for s in free) else 2
        return (-_z_degree(term.value), radical, number, roots, term.negative)

    return sorted(out, key=key)


class _PaperPrinter(LatexPrinter):
    """sympy's LaTeX printer with the paper's order of terms (:func:`_terms`)."""

    def term_pieces(self, expr: sp.Expr) -> list[str]:
        """``expr`` printed as its top-level terms, each with its sign (``"a"``, ``"- b"``, ``"+ c"``)."""
        if not expr.is_Add:
            return [self._print(expr)]
        pieces = []
        for i, term in enumerate(_terms(expr)):
            if term.denominator is not None:
                tex = rf"\frac{{{self._print(term.value)}}}{{{self._print(term.denominator)}}}"
            else:
                tex = self._print(term.value)
                if self._needs_add_brackets(term.value):
                    tex = rf"\left({tex}\right)"
            sign = "-" if term.negative else "+"
            pieces.append(f"{sign} {tex}" if i or term.negative else tex)
        return pieces

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        return " ".join(self.term_pieces(expr))


_PRINTER = _PaperPrinter({"symbol_names": PRINT_NAMES})


def _expr_latex(expr: sp.Expr) -> str:
    return _PRINTER.doprint(canonical_form(expr))


def _relation_latex(rel: sp.Rel, op: str) -> str:
    r"""``lhs op rhs``; a comparison of a sum with 0 moves its negative terms to the right
    (:math:`\alpha h_i - 2 < 0` prints as :math:`\alpha h_i < 2`)."""
    lhs, rhs = _arranged(rel.lhs), rel.rhs
    if rhs == 0 and lhs.is_Add:
        positive = [a for a in lhs.args if not _negative(a)]
        if positive and len(positive) < len(lhs.args):
            lhs, rhs = sp.Add(*positive), sp.Add(*positive) - lhs
    return f"{_expr_latex(lhs)} {op} {_expr_latex(rhs)}"


#: between the entries of a dict (eigenvalues with multiplicities) in print
_ENTRY_SEPARATOR = r",\quad "


def to_latex(obj: object) -> str:
    r"""LaTeX of a derived object in the paper's notation.

    Expressions, relations (``<``, ``>``, ``\leq``, ``\geq``), matrices (``pmatrix``),
    sequences (comma-separated), dicts such as ``Derivation.eigenvalues`` (``value`` with
    its multiplicity) and conjunctions (``\;\wedge\;``) all render. The result of an
    expression, a relation or a matrix parses back with :func:`parse_formula`.
    """
    if isinstance(obj, sp.MatrixBase):
        rows = [" & ".join(_expr_latex(e) for e in obj.row(i)) for i in range(obj.rows)]
        return r"\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"
    if isinstance(obj, sp.Rel):
        ops = {sp.StrictLessThan: "<", sp.StrictGreaterThan: ">", sp.LessThan: r"\leq", sp.GreaterThan: r"\geq"}
        op = ops.get(type(obj))
        return _relation_latex(obj, "=" if op is None else op)
    if isinstance(obj, sp.And):
        return r" \;\wedge\; ".join(to_latex(a) for a in obj.args)
    if isinstance(obj, dict):
        return _ENTRY_SEPARATOR.join(
            to_latex(key) + (rf" \ (\times {m})" if m != 1 else "")
            for key, m in sorted(obj.items(), key=lambda kv: sp.default_sort_key(kv[0]))
        )
    if isinstance(obj, (tuple, list)):
        return ", ".join(to_latex(e) for e in obj)
    return _expr_latex(sp.sympify(obj))


# --------------------------------------------------------------------------- parsing back
@lru_cache(maxsize=1)
def _symbol_map() -> dict[sp.Symbol, sp.Symbol]:
    """Parsed symbol (e.g. ``Symbol('h_{i}')``) -> canonical :mod:`nqm.theory` symbol."""
    table = {}
    for sym, name in PRINT_NAMES.items():
        parsed = _parse_latex(name)
        if isinstance(parsed, sp.Symbol):
            table[parsed] = sym
    return table


def _parse_latex(tex: str) -> sp.Basic:
    r"""``parse_latex(tex, strict=True)``: the lenient parser returns what precedes a syntax
    error (``x + y ) + z`` reads as :math:`x + y`), so a truncated formula could round-trip.

    The size commands ``\left``/``\right`` are dropped first (their delimiters stay): the lexer
    skips them, and strict mode then rejects a formula that begins with ``\left(`` because its
    first parsed token does not start at position 0.
    """
    from sympy.parsing.latex import parse_latex
    from sympy.parsing.latex.errors import LaTeXParsingError

    try:
        return parse_latex(_SIZED_DELIMITER.sub("", tex).strip(), strict=True)
    except LaTeXParsingError as exc:
        raise ValueError(f"tex must be a complete LaTeX formula; cannot parse {tex[:80]!r}") from exc


def parse_formula(tex: str, symbols: Iterable[sp.Symbol] = ()) -> sp.Basic:
    """Parse a formula written by :func:`to_latex` back to sympy, in the canonical symbols.

    ``symbols`` adds further symbols (beyond :data:`PRINT_NAMES`) to map back by their
    printed name, e.g. a statement's own ``N`` or ``d``. Parsing is strict: a formula with a
    syntax error anywhere raises :class:`ValueError` (nothing is silently dropped).
    """

    symbols = tuple(symbols)
    table = dict(_symbol_map())
    for sym in symbols:
        table[_parse_latex(sp.latex(sym))] = sym
    tex = tex.strip()
    matrix = _MATRIX.match(tex)
    if matrix:
        rows = [r for r in (row.strip() for row in matrix.group(1).split(r"\\")) if r]
        return sp.Matrix([[parse_formula(cell, symbols) for cell in row.split("&")] for row in rows])
    for op, cls in _RELATIONS.items():
        parts = re.split(rf"\s{re.escape(op)}\s", tex)
        if len(parts) == 2:
            return cls(parse_formula(parts[0], symbols), parse_formula(parts[1], symbols), evaluate=False)
    return _parse_latex(_JUXTAPOSED_PAREN.sub(r" \\cdot ", tex)).xreplace(table)


def roundtrip(tex: str, source: sp.Basic) -> bool:
    """True if ``tex`` parses back (:func:`parse_formula`, strictly: a formula with a syntax
    error is False) to an expression equal to ``source``.

    Symbols of ``source`` outside :data:`PRINT_NAMES` (e.g. the information bound's N and d)
    are mapped back by their printed names. Equality is symbolic: entrywise for matrices,
    by relation type and :math:`lhs - rhs` for relations, and for expressions by
    expansion/cancellation with radicands multiplied out and powers in :math:`t, k` compared as
    sequences (:func:`nqm.theory._closed_form.same_closed_form`).
    """
    try:
        parsed = parse_formula(tex, [s for s in sp.sympify(source).free_symbols if s not in PRINT_NAMES])
    except ValueError:
        return False
    # radicands multiplied out first: same_closed_form splits sqrt(a b) into sqrt(a) sqrt(b), so a
    # factored radicand (nesterov's roots) and its printed form S^2 - 4P would not meet
    return _equal(_normal_radicals(parsed), _normal_radicals(sp.sympify(source)), same_closed_form)


def _equal(parsed: sp.Basic, source: sp.Basic, same) -> bool:
    if isinstance(source, sp.MatrixBase):
        return isinstance(parsed, sp.MatrixBase) and parsed.shape == source.shape and all(
            same(a, b) for a, b in zip(parsed, source)
        )
    if isinstance(source, sp.Rel):
        return type(parsed) is type(source) and same(parsed.lhs - parsed.rhs, source.lhs - source.rhs)
    return not isinstance(parsed, (sp.MatrixBase, sp.Rel)) and same(parsed, source)


# --------------------------------------------------------------------------- display lines
#: widest display line, in units of about one letter of 10pt math (the document's text is
#: 17 cm wide, see the preamble in _document); longer formulas are broken before top-level + and -
LINE_UNITS = 78
#: room kept for a label and the continuation indent
_LABEL_UNITS = 16
#: the start of a continuation line of a broken formula (see Formula.line and formula_lines)
_CONTINUED = r"&\qquad "
_WIDTH_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.")
_UNIT_WIDTH = {"+": 2.5, "-": 2.5, "=": 2.5, "<": 2.5, ">": 2.5, r"\cdot": 1.5, r"\leq": 2.5, r"\geq": 2.5,
               "(": 0.5, ")": 0.5, ",": 0.5, r"\quad": 2.0, r"\qquad": 4.0, r"\,": 0.3, r"\;": 0.3, r"\ ": 0.5,
               r"\left": 0.0, r"\right": 0.0, r"\mathrm": 0.0, r"\text": 0.0, r"\big": 0.0, r"\textstyle": 0.0}


def _width(tex: str) -> float:
    r"""A rough width of the math ``tex`` in units of about one letter: fractions as wide as
    their wider part, scripts at 0.7, binary operators with their spacing."""
    tokens = [tok for tok in _WIDTH_TOKEN.findall(tex) if not tok.isspace()]
    pos = 0

    def argument() -> float:
        nonlocal pos
        if pos >= len(tokens):
            return 0.0
        tok = tokens[pos]
        pos += 1
        return group() if tok == "{" else _UNIT_WIDTH.get(tok, 1.0)

    def group() -> float:
        nonlocal pos
        total = 0.0
        while pos < len(tokens) and tokens[pos] != "}":
            tok = tokens[pos]
            if tok in ("^", "_"):
                pos += 1
                total += 0.7 * argument()
            elif tok in (r"\frac", r"\tfrac"):
                pos += 1
                total += max(argument(), argument()) * (1.0 if tok == r"\frac" else 0.7)
            else:
                total += argument()
        pos += 1
        return total

    return group()


def _spread(expr: sp.Expr, room: float) -> list[sp.Expr]:
    r"""The terms of ``expr``, each product of a sum that prints wider than ``room`` multiplied
    out (:math:`\frac{c_i h_i}{2B}(a - b)` becomes :math:`\frac{c_i h_i a}{2B} - \frac{c_i h_i b}{2B}`,
    repeatedly): shorter terms that a sum can be broken between."""
    out = []
    for term in sp.Add.make_args(expr):
        sums = [f for f in sp.Mul.make_args(term) if f.is_Add]
        if len(sums) == 1 and _width(_PRINTER.doprint(_canonical_signs(term))) > room:
            out += [part for a in sums[0].args for part in _spread(term / sums[0] * a, room)]
        else:
            out.append(term)
    return out


def _pieces(source: object) -> list[str]:
    """The formula as printed pieces: the terms of a sum (multiplied out where a term is too long
    for one line, :func:`_spread`), the entries of a dict of eigenvalues (each but the last
    ending in ``,\\quad``), else the whole of :func:`to_latex`."""
    if isinstance(source, dict):
        entries = to_latex(source).split(_ENTRY_SEPARATOR)
        return [entry + _ENTRY_SEPARATOR.rstrip() for entry in entries[:-1]] + entries[-1:]
    if not isinstance(source, sp.Expr) or isinstance(source, sp.MatrixBase):
        return [to_latex(source)]
    expr = canonical_form(source)
    pieces = _PRINTER.term_pieces(expr)
    if _width(" ".join(pieces)) > LINE_UNITS:
        pieces = _PRINTER.term_pieces(_canonical_signs(sp.Add(*_spread(expr, LINE_UNITS - _LABEL_UNITS))))
    return pieces


def _lines(pieces: Sequence[str], room: float) -> list[str]:
    """``pieces`` packed greedily into lines of at most ``room`` units (a piece wider than that stands alone)."""
    lines: list[str] = []
    for piece in pieces:
        if lines and _width(f"{lines[-1]} {piece}") <= room:
            lines[-1] = f"{lines[-1]} {piece}"
        else:
            lines.append(piece)
    return lines


@dataclass(frozen=True)
class Formula:
    r"""One display line ``label & formula`` of the document.

    ``label`` is LaTeX for the left-hand side (not parsed); ``source`` the sympy object, or
    eigenvalues with their multiplicities (printed by :func:`to_latex`); ``relation`` marks a
    condition line (no ``=``). A sum too long for one line continues on further lines
    (:attr:`line`), broken before a top-level ``+`` or ``-``.
    """

    label: str
    source: sp.Basic | dict[sp.Expr, int]
    relation: bool = False

    @cached_property
    def pieces(self) -> list[str]:
        """The right-hand side as its top-level terms (:func:`_pieces`)."""
        return _pieces(self.source)

    @property
    def tex(self) -> str:
        """The right-hand side, as written in the document (on one line)."""
        return " ".join(self.pieces)

    @property
    def head(self) -> str:
        """The left-hand side with its alignment point: ``label &=`` (``label &`` for a condition)."""
        return f"{self.label} &" if self.relation else f"{self.label} &="

    @property
    def rows(self) -> list[str]:
        """The right-hand side broken into the rows of the page (the first follows :attr:`head`):
        :attr:`pieces` packed greedily into :data:`LINE_UNITS` less the room of the label."""
        return _lines(self.pieces, LINE_UNITS - max(_width(self.head), _LABEL_UNITS))

    def _repr_latex_(self) -> str:
        """Jupyter display: this line alone (:func:`latex_display`)."""
        return latex_display((self,))

    @property
    def line(self) -> str:
        """The align line (without the trailing ``\\\\``): ``label & rhs``, with continuation
        lines ``&\\qquad rhs`` where the right-hand side is too long for one (:attr:`rows`)."""
        rows = self.rows
        return " \\\\\n".join([f"{self.head} {rows[0]}"] + [_CONTINUED + row for row in rows[1:]])


# --------------------------------------------------------------------------- derivation summary
#: labels of the characteristic polynomial and the stationary risk
_CHARACTERISTIC = r"\det(zI - A)"
_STATIONARY = r"\mathrm{E}\,\ell_{i}(\infty)"


def _state_space_formulas(spec: OptimizerSpec) -> tuple[Formula, ...]:
    return (
        Formula("A", spec.A),
        Formula("b", spec.b),
        Formula(r"\mathrm{init}", spec.init),
        Formula(r"\mathrm{out}", spec.out),
    )


def _stability_formulas(conditions: Sequence[sp.Basic]) -> tuple[Formula, ...]:
    """Jury's conditions (J1), (J2), ... as condition lines."""
    return tuple(Formula(rf"\text{{(J{i})}}\quad", cond, relation=True) for i, cond in enumerate(conditions, 1))


def _summary_formulas(
    spec: OptimizerSpec,
    characteristic_polynomial: sp.Expr,
    stationary_risk: sp.Expr,
    stability_conditions: Sequence[sp.Basic],
) -> tuple[Formula, ...]:
    """The main results of a derivation as the document writes them: the state-space form, the
    characteristic polynomial (eq. 22), the stationary risk and Jury's stability conditions."""
    return (
        _state_space_formulas(spec)
        + (Formula(_CHARACTERISTIC, characteristic_polynomial), Formula(_STATIONARY, stationary_risk))
        + _stability_formulas(stability_conditions)
    )


def latex_display(formulas: Sequence[Formula]) -> str:
    r"""Formulas as one display ``$$\begin{aligned} ... \end{aligned}$$`` of their document lines
    (:attr:`Formula.line`), for Jupyter's ``_repr_latex_`` (MathJax)."""
    return "$$\\begin{aligned}\n" + " \\\\\n".join(f.line for f in formulas) + "\n\\end{aligned}$$"


def formula_lines(document: str) -> list[str]:
    r"""The formulas of a document written by :func:`~nqm.theory.latex_document`: the right-hand side
    of every line of every ``align*`` block (the text after ``&`` and an optional ``=``),
    with the continuation lines of a broken formula joined back (as :attr:`Formula.tex`)."""
    out: list[str] = []
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", document, re.S):
        for line in re.split(r" \\\\\n", block):
            if line.startswith(_CONTINUED):
                out[-1] += " " + line[len(_CONTINUED):]
                continue
            rhs = line.split("&", 1)[1].strip()
            out.append(rhs[1:].strip() if rhs.startswith("=") else rhs)
    return out
