"""Keep C++ libraries' console output (Pythia, fastjet banners) out of the command line's stdout."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def captured_stdout():
    """Redirect file descriptor 1 to a temporary file for the duration of the block.

    Yields a list that receives the captured text when the block ends, so callers can mine
    error lines out of a library's log without showing it to the user.
    """
    out: list[str] = []
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            yield out
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))
