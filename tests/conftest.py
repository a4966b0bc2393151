"""Hypothesis profiles: random exploration locally, a reproducible run in CI.

Locally (the default profile) every run draws fresh examples and keeps failures in
``.hypothesis/``. Under CI (``CI`` set, as ``.ci/run`` runs) the examples are derived from each
test's name (``derandomize=True``) and no database is read, so a CI verdict depends on the
code alone and any CI failure reproduces with ``CI=true python -m pytest ...``. Explicit
``@settings`` on a test still override these defaults.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
