r"""Optimizers as data: a linear state-space update per eigen-direction.

On the NQM every first-order method decouples across the eigen-directions of
:math:`H` (Zhang et al. 2019, Section 3.1). Per direction it is a linear system

.. math::

    x_{t+1} = A\,x_t + b\,\xi_t, \qquad x_0 = \mathrm{init}\;\theta(0), \qquad
    y_t = \mathrm{out}\; x_t, \qquad \mathbb{E}\,\ell(t) = \tfrac12 h\,\mathbb{E}[y_t^2],

where :math:`\xi_t` is the mini-batch gradient noise of step t, with mean 0 and variance
:math:`c/B`. ``A`` and ``b`` are sympy matrices in :math:`h, c, B` and the declared
hyperparameters; ``init`` maps the start :math:`\theta(0)` to the state and ``out``
selects the evaluated iterate (the EMA average for eq. 11, :math:`\theta` otherwise).

A spec can be written directly as matrices, or (more readably) as update code on
symbolic state with :meth:`OptimizerSpec.from_update`, which extracts ``A`` and ``b`` by
differentiation and rejects updates that are not linear.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sympy as sp

from ._symbols import PROBLEM_SYMBOLS, c, h, p, v0, xi

__all__ = ["Hyperparameter", "OptimizerSpec", "SpecError", "PRECOND_POWER", "PRECONDITIONED_PROBLEM"]


class SpecError(ValueError):
    """An optimizer spec is malformed (shapes, undeclared symbols, non-linear update)."""


@dataclass(frozen=True)
class Hyperparameter:
    r"""A named, symbolic hyperparameter with its admissible interval.

    ``name`` is the Python keyword used by :mod:`nqm.numerics` (``lr``, ``beta``, ...);
    ``symbol`` is the sympy symbol in the spec's matrices. ``default`` (optional) is the value
    tuning uses when a hyperparameter is neither on the grid nor given (QHM's
    :math:`\nu = 0.7`): defaults belong to a spec, never to a name.
    """

    name: str
    symbol: sp.Symbol
    lower: float
    upper: float
    lower_closed: bool = True
    upper_closed: bool = False
    description: str = ""
    default: float | None = None

    def __post_init__(self) -> None:
        if self.default is None:
            return
        value = self.default
        real = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not real or self.interval.contains(sp.nsimplify(value)) is not sp.true:
            raise SpecError(f"the default of {self.name} must be a number in {self.range_text}; got {value!r}")

    @property
    def interval(self) -> sp.Interval:
        """The admissible set as a sympy interval."""
        lo = -sp.oo if math.isinf(self.lower) else sp.nsimplify(self.lower)
        hi = sp.oo if math.isinf(self.upper) else sp.nsimplify(self.upper)
        return sp.Interval(lo, hi, not self.lower_closed, not self.upper_closed)

    @property
    def range_text(self) -> str:
        """Human-readable interval, e.g. ``[0, 1)`` or ``(0, inf)``."""
        lo = "[" if self.lower_closed else "("
        hi = "]" if self.upper_closed else ")"
        fmt = lambda v: "inf" if math.isinf(v) else f"{v:g}"  # noqa: E731
        return f"{lo}{fmt(self.lower)}, {fmt(self.upper)}{hi}"


#: the preconditioning power of eq. 8, shared by every spec
PRECOND_POWER = Hyperparameter(
    "precond_power", p, 0.0, 1.0, True, True, "preconditioner power p, P = H^p (eq. 8)"
)


#: The NQM that a :math:`P = H^p` preconditioned method sees (eqs. 8-9), in the
#: coordinates :math:`\tilde\theta = h^{p/2}\theta`: curvature, noise and start second moment.
#: Its risk :math:`\tfrac12\tilde h\tilde\theta^2` equals :math:`\tfrac12 h\theta^2`.
PRECONDITIONED_PROBLEM: dict[sp.Symbol, sp.Expr] = {h: h ** (1 - p), c: c * h ** (-p), v0: v0 * h**p}


def _immutable(m: Any, rows: int | None, cols: int | None, what: str) -> sp.ImmutableMatrix:
    try:
        mat = sp.ImmutableMatrix(m)
    except (TypeError, ValueError) as exc:  # pragma: no cover - sympy message is enough
        raise SpecError(f"{what} is not a matrix: {exc}") from exc
    if (rows is not None and mat.rows != rows) or (cols is not None and mat.cols != cols):
        raise SpecError(
            f"{what} has shape {mat.shape}; expected ({rows if rows is not None else 'n'}, "
            f"{cols if cols is not None else 'n'})"
        )
    return mat


@dataclass(frozen=True)
class OptimizerSpec:
    r"""One optimizer on one eigen-direction: :math:`x' = A x + b\,\xi`.

    Attributes
    ----------
    name:
        registry key, e.g. ``"momentum"``.
    A, b, init, out:
        ``n x n``, ``n x 1``, ``n x 1`` and ``1 x n`` sympy matrices.
    hyperparameters:
        the hyperparameters (besides ``h, c, B``) that may appear in the matrices.
    state:
        names of the state components, e.g. ``("theta", "m")``.
    description, reference:
        text for reports; ``reference`` cites the paper's equation.
    display_name:
        the name figures and tables show (``"SGD + EMA"``); :attr:`label` falls back to ``name``.
    """

    name: str
    A: sp.ImmutableMatrix
    b: sp.ImmutableMatrix
    init: sp.ImmutableMatrix
    out: sp.ImmutableMatrix
    hyperparameters: tuple[Hyperparameter, ...]
    state: tuple[str, ...]
    description: str = ""
    reference: str = ""
    preconditioned: bool = field(default=False)
    display_name: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise SpecError(f"name must be a non-empty identifier; got {self.name!r}")
        A = _immutable(self.A, None, None, "A")
        if A.rows != A.cols or A.rows == 0:
            raise SpecError(f"A must be square and non-empty; got shape {A.shape}")
        n = A.rows
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", _immutable(self.b, n, 1, "b"))
        object.__setattr__(self, "init", _immutable(self.init, n, 1, "init"))
        object.__setattr__(self, "out", _immutable(self.out, 1, n, "out (the output row)"))
        object.__setattr__(self, "hyperparameters", tuple(self.hyperparameters))
        object.__setattr__(self, "state", tuple(self.state))
        if len(self.state) != n:
            raise SpecError(f"state names {self.state} do not match the state dimension {n}")
        names = [hp.name for hp in self.hyperparameters]
        symbols = [hp.symbol for hp in self.hyperparameters]
        if len(set(names)) != len(names) or len(set(symbols)) != len(symbols):
            raise SpecError(f"hyperparameter names/symbols must be unique; got {names}")
        clash = set(symbols) & PROBLEM_SYMBOLS
        if clash:
            raise SpecError(f"hyperparameters may not reuse problem symbols {sorted(map(str, clash))}")
        allowed = PROBLEM_SYMBOLS | set(symbols)
        for label in ("A", "b", "init", "out"):
            mat: sp.ImmutableMatrix = getattr(self, label)
            if any(not e.is_finite and e.is_number for e in mat):
                raise SpecError(f"{label} contains a non-finite entry")
            extra = mat.free_symbols - allowed
            if extra:
                raise SpecError(
                    f"{label} uses undeclared symbol(s) {sorted(map(str, extra))}; declare them as "
                    f"hyperparameters, or use nqm.theory's problem symbols h, c, B "
                    f"(a fresh sympy.Symbol('h') is a different symbol)"
                )
        if all(e == 0 for e in self.out):
            raise SpecError("out (the output row) is all zero: it selects no iterate")

    # ------------------------------------------------------------------ basic views
    @property
    def label(self) -> str:
        """The name shown in figures and tables: :attr:`display_name`, else :attr:`name`."""
        return self.display_name or self.name

    @property
    def n(self) -> int:
        """State dimension per eigen-direction."""
        return int(self.A.rows)

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """Hyperparameter symbols in declaration order."""
        return tuple(hp.symbol for hp in self.hyperparameters)

    @property
    def noise_linear(self) -> bool:
        r"""Whether :math:`c` appears in none of ``A``, ``b``, ``init`` and ``out``.

        Then :math:`c` only scales the noise variance :math:`c/B`: the expected risk of a
        direction is :math:`\tfrac12 h\,[v\,m_t(h)^2 + \tfrac cB\,n_t(h)]`, linear in :math:`v` and
        :math:`c`, so directions of equal curvature share :math:`m_t, n_t` and the numeric engine
        merges them exactly (:meth:`nqm.numerics.Problem.expected_risk_equivalent`).
        """
        return all(c not in m.free_symbols for m in (self.A, self.b, self.init, self.out))

    def hyperparameter(self, name: str) -> Hyperparameter:
        """Look up a hyperparameter by its Python name."""
        for hp in self.hyperparameters:
            if hp.name == name:
                return hp
        raise KeyError(f"{self.name} has no hyperparameter {name!r}; it has {[h.name for h in self.hyperparameters]}")

    @property
    def D(self) -> sp.ImmutableMatrix:
        r""":math:`D = A - I`, simplified entrywise.

        Numerics evaluate everything through ``D`` rather than ``A``: an entry such as
        :math:`1-\alpha h` loses all relative accuracy in floating point when
        :math:`\alpha h \approx 10^{-12}`, while :math:`-\alpha h` keeps it.
        """
        return sp.ImmutableMatrix((self.A - sp.eye(self.n)).applyfunc(sp.factor))

    # ------------------------------------------------------------------ transformations
    def precondition(self) -> OptimizerSpec:
        r"""The same method with the preconditioner :math:`P = H^{p}` (eqs. 8–9).

        Preconditioning rescales every gradient query by :math:`h^{-p}`. For a method
        that is linear in its gradient queries this is the method run on the NQM with
        :math:`\tilde h = h^{1-p}`, :math:`\tilde c = c\,h^{-p}` in the coordinates
        :math:`\tilde\theta = h^{p/2}\theta`, mapped back to :math:`\theta`: ``A`` and
        ``b`` are evaluated at :math:`(\tilde h, \tilde c)` and the noise gain is
        multiplied by :math:`h^{-p}`. The loss weight :math:`\tfrac12 h` is unchanged.
        """
        if self.preconditioned:
            raise SpecError(f"{self.name} is already preconditioned")
        sub = {h: h ** (1 - p), c: c * h ** (-p)}
        return replace(
            self,
            name=f"{self.name}_precond",
            A=self.A.subs(sub, simultaneous=True),
            b=(self.b.subs(sub, simultaneous=True) * h ** (-p)),
            hyperparameters=self.hyperparameters + (PRECOND_POWER,),
            description=f"{self.description} with preconditioner P = H^p (eq. 8)",
            reference=f"{self.reference}; eqs. 8-9" if self.reference else "eqs. 8-9",
            preconditioned=True,
        )

    def change_basis(self, T: sp.Matrix, state: Sequence[str] | None = None) -> OptimizerSpec:
        r"""The same optimizer in the coordinates :math:`x' = T x`.

        :math:`A' = T A T^{-1}`, :math:`b' = T b`, :math:`\mathrm{init}' = T\,\mathrm{init}`,
        :math:`\mathrm{out}' = \mathrm{out}\,T^{-1}`. Used to show the paper's appendix
        matrices in the authors' notebook coordinates (e.g. :math:`v = -\alpha m`).
        """
        T = _immutable(T, self.n, self.n, "T")
        if sp.simplify(T.det()) == 0:
            raise SpecError("the change of basis T is singular")
        Ti = T.inv()
        return replace(
            self,
            A=(T * self.A * Ti).applyfunc(sp.cancel),
            b=(T * self.b).applyfunc(sp.cancel),
            init=(T * self.init).applyfunc(sp.cancel),
            out=(self.out * Ti).applyfunc(sp.cancel),
            state=tuple(state) if state is not None else self.state,
        )

    def fix(self, **values: Any) -> OptimizerSpec:
        """Substitute fixed values for some hyperparameters (e.g. ``beta=0``).

        The substituted hyperparameters are removed from the spec. Used by reduction
        checks such as "momentum with beta = 0 is SGD".
        """
        sub: dict[sp.Symbol, Any] = {}
        for name, value in values.items():
            hp = self.hyperparameter(name)
            value = sp.sympify(value) if isinstance(value, sp.Basic) else sp.nsimplify(value)
            if value.is_number and not hp.interval.contains(value):
                raise ValueError(f"{name} must be in {hp.range_text}; got {value}")
            sub[hp.symbol] = value
        keep = tuple(hp for hp in self.hyperparameters if hp.symbol not in sub)
        suffix = ",".join(f"{k}={v}" for k, v in values.items())
        return replace(
            self,
            name=f"{self.name}_fixed",
            A=self.A.subs(sub),
            b=self.b.subs(sub),
            init=self.init.subs(sub),
            out=self.out.subs(sub),
            hyperparameters=keep,
            description=f"{self.description} ({suffix})",
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_update(
        cls,
        name: str,
        update: Callable[..., Sequence[sp.Expr]],
        *,
        state: Sequence[str],
        hyperparameters: Sequence[Hyperparameter],
        init: Sequence[Any] | None = None,
        out: Sequence[Any] | None = None,
        description: str = "",
        reference: str = "",
        display_name: str = "",
    ) -> OptimizerSpec:
        r"""Build a spec from update code on symbolic state.

        ``update(grad, *state, **hyper)`` returns the new state. ``grad(y)`` is the
        mini-batch gradient query at the point ``y``: :math:`h\,y + \xi`. All queries of
        one step share the same mini-batch, hence the same :math:`\xi`. Example
        (heavy-ball momentum, eq. 5)::

            def update(grad, theta, m, lr, beta):
                m = beta * m + grad(theta)
                return theta - lr * m, m

        ``init`` defaults to :math:`(1, 0, \dots, 0)` (state 0 starts at
        :math:`\theta(0)`, the rest at 0) and ``out`` to :math:`(1, 0, \dots, 0)`.
        The update must be linear in the state and the noise; anything else raises
        :class:`SpecError`.
        """
        state = tuple(state)
        n = len(state)
        if n == 0:
            raise SpecError("state must name at least one component")
        xs = sp.symbols(f"_s0:{n}", real=True)
        kwargs = {hp.name: hp.symbol for hp in hyperparameters}
        new = update(lambda y: h * y + xi, *xs, **kwargs)
        if isinstance(new, sp.Basic):
            new = (new,)
        new = [sp.expand(sp.sympify(e)) for e in new]
        if len(new) != n:
            raise SpecError(f"update returned {len(new)} components for a {n}-component state")
        variables = list(xs) + [xi]
        for i, e in enumerate(new):
            poly = sp.Poly(e, *variables)
            if poly.total_degree() > 1 or poly.coeff_monomial(1) != 0:
                raise SpecError(
                    f"update of {state[i]!r} is not linear and homogeneous in the state and the noise: {e}"
                )
        A = sp.Matrix(n, n, lambda i, j: sp.factor(sp.diff(new[i], xs[j])))
        b = sp.Matrix(n, 1, lambda i, _j: sp.factor(sp.diff(new[i], xi)))
        unit = [1] + [0] * (n - 1)
        return cls(
            name=name,
            A=A,
            b=b,
            init=sp.Matrix(init if init is not None else unit),
            out=sp.Matrix([list(out if out is not None else unit)]),
            hyperparameters=tuple(hyperparameters),
            state=state,
            description=description,
            reference=reference,
            display_name=display_name,
        )
