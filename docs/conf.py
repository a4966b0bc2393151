"""Sphinx configuration: the project's mathematical notes (docs/math, MyST Markdown) and the API
reference of the public names (each package's ``__all__``).

Built in CI by ``.ci/docs`` with warnings as errors, once as HTML and once as doctest.
"""

from __future__ import annotations

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

# MyST: $...$ and $$...$$ mathematics, and "{doctest}"-free ">>>" blocks are collected by
# sphinx.ext.doctest from the pages (doctest_test_doctest_blocks).
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_inherit_docstrings = False
# "Attributes" sections as :ivar: fields: a dataclass field is then not described twice
napoleon_use_ivar = True

doctest_global_setup = "import math\nimport numpy as np\n"

html_theme = "alabaster"
html_static_path: list[str] = []
