"""Keep C++ libraries' console output (Pythia, fastjet banners, HepMC3 diagnostics) out of the
command line's stdout and stderr."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
import threading
from functools import lru_cache

_ONE_AT_A_TIME = threading.RLock()
"""Descriptor 1 is the process's: two threads redirecting it at once (a chunk read ahead while
the main thread captures a banner) would each restore the other's redirection."""


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
    error lines out of a library's log without showing it to the user. One thread at a time
    redirects (another one's block waits for the first to end).
    """
    out: list[str] = []
    with _ONE_AT_A_TIME, tempfile.TemporaryFile(mode="w+b") as tmp:
        sys.stdout.flush()
        saved = os.dup(1)
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
