"""``python -m nqm.proofs.cli``: the ``nqm`` console script."""

import sys

from ._main import main

sys.exit(main())
