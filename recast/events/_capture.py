"""Keep C++ libraries' console output (Pythia, fastjet banners, HepMC3 diagnostics) out of the
command line's stdout and stderr."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from functools import lru_cache


@lru_cache(maxsize=None)
def _libc():
    return ctypes.CDLL(None)


def flush_c_stdio() -> None:
    """Flush C's stdio buffers: when stdout is a pipe or a file, ``printf`` output of a C/C++
    library waits there and would otherwise appear only after the descriptor is restored."""
    try:
        _libc().fflush(None)
    except (OSError, AttributeError):  # no C library to talk to: nothing buffered there either
        pass


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
            flush_c_stdio()
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))
