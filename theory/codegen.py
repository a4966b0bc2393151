r"""The numeric layer's entry into the theory: a spec's derivations as generated numpy code.

:mod:`nqm.numerics` evaluates what these functions produce and never imports sympy itself
(the built-ins' forms are committed as ``numerics/_generated.py``; a user spec's are derived,
printed and compiled on first use, cached by spec content):

* :func:`compile_forms` / :func:`cached_forms_source` / :func:`forms_source`: the function
  ``forms(h, c, B, <hyperparameters>) -> dict`` of a spec's
  :class:`~nqm.theory.NumericInvariants` (Theorem 1's Chebyshev form for n <= 2 states);
* :func:`compile_transition`: the function generated next to it, ``forms_transition`` with the same
  arguments, returning only ``n`` and the linear update's entries ``D`` = A - I, ``b``, ``init``,
  ``out`` (what the per-step recursion of a schedule reads);
* :func:`exact_terms`: the quantities evaluated exactly from the inputs near the edges of
  stability, as polynomials in :math:`x = \alpha h` and the other hyperparameters;
* :func:`scale_covariant`: whether the forms obey :math:`(h, c, \alpha) \to (sh, sc, \alpha/s)`;
* :func:`hyperparameter_ranges`: each hyperparameter's interval as plain floats, for validators;
* :func:`generated_module_source`: the text of ``numerics/_generated.py`` for given specs.

The disk cache of a user spec's forms never runs code from a file: an entry is compiled only if it
is intact (its SHA-256), stored for that spec's key, and its syntax tree is exactly of the form the
generator writes (a whitelist: the two functions, each of arithmetic on the arguments, ``numpy``
functions of a fixed set, one returned dict); any other is refused with a :class:`FormsCacheWarning`
naming the file, derived again and overwritten. The hash is unkeyed: whoever can write the cache
folder can forge wrong values, never code. Details in :mod:`nqm.theory._forms_cache`.

How the code is generated (which writing of each hyperparameter keeps its accuracy) is
documented in the private module that implements it.
"""

from __future__ import annotations

from ._codegen import (
    FormsCacheWarning,
    cached_forms_source,
    compile_forms,
    compile_transition,
    exact_terms,
    forms_source,
    generated_module_source,
    hyperparameter_ranges,
    scale_covariant,
)

__all__ = [
    "FormsCacheWarning",
    "cached_forms_source",
    "compile_forms",
    "compile_transition",
    "exact_terms",
    "forms_source",
    "generated_module_source",
    "hyperparameter_ranges",
    "scale_covariant",
]
