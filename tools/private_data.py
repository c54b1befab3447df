"""A private data folder for scripts that open the window or train through it.

The window saves every run into the run library (``$XDG_DATA_HOME/scratchnet/runs``) and keeps My digits
and the import cache beside it. A benchmark or a screenshot tool calls ``use_private_data_home()`` first,
so that its runs land in a temporary folder, removed at exit, never in the user's library.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def use_private_data_home() -> str:
    """Point ``XDG_DATA_HOME`` at a new temporary folder (removed at exit) and return it."""
    folder = tempfile.mkdtemp(prefix="scratchnet-data-")
    os.environ["XDG_DATA_HOME"] = folder
    atexit.register(shutil.rmtree, folder, True)
    return folder
