"""Helpers for the numba kernels.

:func:`borrowed`: a call between compiled functions that passes an array costs an atomic
increment and decrement of the array's reference count (numba's runtime keeps one per
allocation), and on paths that run for every particle of every event that was most of the time
they took. A kernel that receives an array from its caller (so the array lives at least as long
as the call) can work on a *borrowed* view instead: the same data, shape and strides without a
reference to count, whose passing costs nothing. Borrowed views must never leave the call that
made them (not returned, not stored in something that outlives it). This avoids inlining the
callees on numba's IR, which made the HepMC3 kernel take minutes to compile.

:class:`BackgroundCompile`: a child process that compiles kernels into numba's cache while this
process does other work (the first run after installing compiles the HepMC reader's kernel while
the analyses' models load); :func:`is_cached` says whether there is anything to compile.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import subprocess
import sys
import threading

from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


@intrinsic
def borrowed(typingctx, array):
    """``array`` without its reference count (see the module docstring)."""

    def codegen(context, builder, signature, args):
        source = make_array(array)(context, builder, value=args[0])
        view = make_array(array)(context, builder)
        populate_array(view, data=source.data, shape=source.shape, strides=source.strides,
                       itemsize=source.itemsize, meminfo=None)
        return view._getvalue()

    return array(array), codegen


def is_cached(kernel, args: tuple) -> bool | None:
    """Whether numba's cache holds ``kernel`` (a ``cache=True`` dispatcher) compiled for the
    types of ``args`` (True also when this process has compiled it already), without loading it;
    None when it cannot tell (numba's cache internals changed, caching is off)."""
    try:
        sig = tuple(kernel.typeof_pyval(a) for a in args)
        if sig in kernel.overloads:
            return True
        key = kernel._cache._index_key(sig, kernel.targetctx.codegen())
        return key in kernel._cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - private numba API: not knowing is an answer
        return None


class BackgroundCompile:
    """``module.function(*args)`` in a child process, whose job is to fill numba's cache
    (``NUMBA_CACHE_DIR``, which the child inherits) while this process does other work.

    Whatever goes wrong in the child (it prints nothing) only means this process compiles for
    itself, as without it. The child ends with this process: it is killed at exit if still
    running, and ends by itself when this process dies (its stdin, which it watches, closes).
    """

    def __init__(self, module: str, function: str, *args) -> None:
        code = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
                "from recast.kernels import _background_child; _background_child()")
        self.owner = os.getpid()  # a process forked from this one does not own the child
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        _running.add(self)
        try:
            for message in (sys.path, (module, function, args)):
                pickle.dump(message, self.proc.stdin)
            self.proc.stdin.flush()
        except OSError:  # the child could not start its interpreter
            self.stop()

    def wait(self) -> bool:
        """Wait until the child has ended; True if it did all it had to."""
        try:
            self.proc.wait()
        except BaseException:  # Ctrl-C while waiting: the child must not outlive the run
            self.stop()
            raise
        return self.poll()

    def poll(self) -> bool | None:
        """None while the child runs; once it has ended, whether it did all it had to."""
        code = self.proc.poll()
        if code is None:
            return None
        self._close()
        return code == 0

    def stop(self) -> None:
        """End the child now (if it is still running)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close()

    def _close(self) -> None:
        _running.discard(self)
        with contextlib.suppress(OSError):
            self.proc.stdin.close()


_running: set[BackgroundCompile] = set()


@atexit.register
def _stop_running() -> None:
    for child in list(_running):
        if child.owner == os.getpid():
            child.stop()


def _background_child() -> None:
    """The child of :class:`BackgroundCompile`: reads the call from stdin, then watches stdin,
    whose end means that the parent has ended or given up on it."""
    stdin = sys.stdin.buffer
    module, function, args = pickle.load(stdin)

    def watch() -> None:
        stdin.read()  # returns at end of input
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    try:
        getattr(importlib.import_module(module), function)(*args)
    except BaseException:  # noqa: BLE001 - the parent compiles for itself; nothing to print
        os._exit(1)
    os._exit(0)
