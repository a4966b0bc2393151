"""Jupyter display of derivations: ``Derivation._repr_latex_`` and ``Formula._repr_latex_`` show the
LaTeX document's own lines, and every formula shown parses back to what it was printed from."""

import re

from nqm.theory import Formula, derive, momentum

_LINE = re.compile(r"^(?P<label>.*?) &(?P<eq>=?) (?P<rhs>.*)$")


def test_a_derivation_displays_its_main_results_and_they_parse_back() -> None:
    from nqm.theory import roundtrip

    d = derive(momentum)
    tex = d._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}\n") and tex.endswith("\n\\end{aligned}$$")
    lines = tex[len("$$\\begin{aligned}\n"):-len("\n\\end{aligned}$$")].split(" \\\\\n")
    assert not any(line.startswith("&\\qquad") for line in lines)  # momentum's lines fit: no continuations
    parsed = {m["label"]: m["rhs"] for m in map(_LINE.match, lines)}
    sources = {"A": momentum.A, "b": momentum.b, r"\det(zI - A)": d.characteristic_polynomial,
               r"\mathrm{E}\,\ell_{i}(\infty)": d.stationary_risk}
    for label, source in sources.items():
        assert roundtrip(parsed[label], source), label
    conditions = [rhs for label, rhs in parsed.items() if label.startswith(r"\text{(J")]
    assert len(conditions) == len(d.stability_conditions)
    assert all(roundtrip(rhs, cond) for rhs, cond in zip(conditions, d.stability_conditions))


def test_a_formula_displays_its_document_line() -> None:
    f = Formula(r"\mathrm{E}\,\ell_{i}(\infty)", derive(momentum).stationary_risk)
    assert f._repr_latex_() == f"$$\\begin{{aligned}}\n{f.line}\n\\end{{aligned}}$$"
