"""Make this folder's helper modules (``_moment_reference``) importable without package files."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
