"""Sphinx configuration: the project's mathematical notes (docs/math, MyST Markdown) and the API
reference of the public names (each package's ``__all__``).

Built in CI by ``.ci/docs`` with warnings as errors, once as HTML and once as doctest.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer

project = "nqm-toolkit"
author = "nqm-toolkit contributors"
copyright = "nqm-toolkit contributors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# MyST: $...$ and $$...$$ mathematics; the pages' examples are ```{doctest} blocks, each importing
# what it uses, run by sphinx.ext.doctest (the doctest builder of .ci/docs)
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# every function and class of a package's __all__; its constants are added by _add_constants below
autodoc_default_options = {"members": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False
# "Attributes" sections as :ivar: fields: a dataclass field is then not described twice
napoleon_use_ivar = True

html_theme = "alabaster"
html_static_path: list[str] = []

#: public name -> the ``#:`` comment above its definition (filled in setup)
COMMENT_DOCS: dict[str, list[str]] = {}
#: the packages of the API reference; each re-exports names defined in its private submodules
PACKAGES = ("nqm.theory", "nqm.numerics", "nqm.proofs")


def _comment_docs() -> dict[str, list[str]]:
    """The ``#:`` comments above the public constants, read from the private submodules' sources.

    autodoc looks for ``#:`` comments in the documented module (the package ``__init__``) only;
    the public constants are defined, and commented, in the submodules. Modules are parsed, not
    imported (only subpackages are, to find their modules).
    """
    docs: dict[str, list[str]] = {}
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        public = set(package.__all__)
        # nested subpackages too; one that needs an optional extra to import is skipped
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}.", onerror=lambda name: None):
            spec = importlib.util.find_spec(info.name)  # locates the file without running it
            if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
                continue
            try:
                analyzer = ModuleAnalyzer.for_file(spec.origin, info.name)
            except PycodeError:
                continue
            for (scope, name), lines in analyzer.find_attr_docs().items():
                if scope == "" and name in public:
                    docs.setdefault(f"{package_name}.{name}", list(lines))
    return docs


def _fallback(obj: Any) -> list[str]:
    """A one-line description of a constant without a ``#:`` comment (a spec's or a
    hyperparameter's own description, else its short repr)."""
    description = getattr(obj, "description", None)
    if isinstance(description, str) and description:
        return [description[:1].upper() + description[1:] + "."]
    text = repr(obj)
    return [f"``{text}``" if len(text) <= 80 and "`" not in text else f"A {type(obj).__name__}."]


def _constants_section(package_name: str) -> str:
    """reST for the constants of a package's ``__all__``.

    autodoc documents a module-level constant only if the documented module's own source has a
    ``#:`` comment for it; a package re-exports constants defined, and commented, in its
    submodules. They are therefore written out here as ``py:data`` entries.
    """
    package = importlib.import_module(package_name)
    out = ["", "Constants", "---------", ""]
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            continue
        lines = COMMENT_DOCS.get(f"{package_name}.{name}") or _fallback(obj)
        out += [f".. py:data:: {name}", f"   :module: {package_name}", "", *(f"   {line}" for line in lines), ""]
    return "\n".join(out)


def _add_constants(app: Sphinx, docname: str, source: list[str]) -> None:
    package_name = "nqm." + docname.removeprefix("api/")
    if docname.startswith("api/") and package_name in PACKAGES:
        source[0] += _constants_section(package_name)


def setup(app: Sphinx) -> None:
    COMMENT_DOCS.update(_comment_docs())
    app.connect("source-read", _add_constants)
