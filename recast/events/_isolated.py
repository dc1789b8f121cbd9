"""Run a function whose C++ code may crash (HepMC3, for the ``pyhepmc`` reader) in a process of its
own, so that a segmentation fault ends that process and becomes an error message here.

A reader server (``python -c ...serve()``, started on first use, one per concurrent reader) has
imported the reader module once; for each call it forks a child that runs the function and sends
its results back as pickled messages over the server's stdout, then reports how the child ended.
The server has no threads, so the fork is safe (forking this process could deadlock the child on
a lock held by another thread, such as onnxruntime's); it needs no ``if __name__ == "__main__"``
guard from the caller's script (multiprocessing's spawn and forkserver re-run ``__main__``); and
a new child costs milliseconds, not the second of imports a fresh interpreter would.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

_idle: list[_Server] = []


class ChildDied(Exception):
    """The child ended without saying so; ``how`` says how (e.g. "SIGSEGV")."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class _Server:
    def __init__(self) -> None:
        code = "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); " \
               "from recast.events._isolated import serve; serve()"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.owner = os.getpid()  # a process forked from this one must not share the server's pipes
        self._send(sys.path)

    def _send(self, obj: Any) -> None:
        pickle.dump(obj, self.proc.stdin)
        self.proc.stdin.flush()

    def call(self, module: str, function: str, args: tuple) -> Iterator[Any]:
        """Run ``module.function(*args, send)`` in a fresh child; yield what it sends."""
        self._send((module, function, args))
        while True:
            try:
                kind, payload = pickle.load(self.proc.stdout)
            except (EOFError, pickle.UnpicklingError, OSError):  # the server itself died
                raise ChildDied(_how(self.proc.wait())) from None
            if kind == "message":
                yield payload
            else:  # "exit": the child's wait status
                if payload != 0:
                    raise ChildDied(_how(-os.WTERMSIG(payload) if os.WIFSIGNALED(payload)
                                         else os.WEXITSTATUS(payload)))
                return

    def kill(self) -> None:
        """End the server; a child it is waiting for, blocked on a pipe nobody reads any more,
        gets EPIPE and ends too."""
        self.proc.kill()
        self.proc.wait()


@atexit.register
def _close_idle() -> None:
    while _idle:
        server = _idle.pop()
        if server.owner != os.getpid():
            continue
        server.proc.stdin.close()  # its loop ends at the end of its input
        try:
            server.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()


def _how(returncode: int) -> str:
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def run(module: str, function: str, *args: Any) -> Iterator[Any]:
    """Yield the messages ``module.function(*args, send)`` sends (``send(obj)`` pickles ``obj``)
    from a child process. Raises :class:`ChildDied` if the child ends abnormally (a crash) before
    returning. Stopping the iteration early ends the child."""
    _idle[:] = [s for s in _idle if s.owner == os.getpid()]  # servers inherited through a fork are not ours
    server = _idle.pop() if _idle else _Server()
    finished = False
    try:
        yield from server.call(module, function, args)
        finished = True
    except ChildDied:
        finished = server.proc.poll() is None  # the child died, its server lives on
        raise
    finally:
        if finished:
            _idle.append(server)
        else:  # abandoned mid-call, or the server died
            server.kill()


def finish(messages: Iterator[Any]) -> None:
    """Wait for the child of :func:`run` to end once it has said all it had to say (its server
    is then free for the next call; closing ``messages`` instead would end the server too)."""
    try:
        for _ in messages:
            pass
    except ChildDied:
        pass


def serve() -> None:
    """The server's loop: read (module, function, args) requests from stdin, run each in a forked
    child, whose messages and exit status go to stdout. Ends when stdin closes. A module's
    ``warm_up_isolated()``, if it has one, runs once in the server before its first child."""
    requests = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # C++ libraries print: keep that out of the message stream
    os.dup2(null, 2)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which ends us

    def send(kind: str, payload: Any) -> None:
        pickle.dump((kind, payload), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()  # whole messages only: a crash must not leave half of one in the pipe

    warm: set[str] = set()
    while True:
        try:
            module, function, args = pickle.load(requests)
        except EOFError:
            return
        loaded = importlib.import_module(module)
        target = getattr(loaded, function)
        if module not in warm:  # load what every child would otherwise load again (numba's compiled code)
            getattr(loaded, "warm_up_isolated", lambda: None)()
            warm.add(module)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                target(*args, lambda obj: send("message", obj))
            except BaseException:  # noqa: BLE001 - reported as the exit status
                code = 1
            finally:
                try:
                    out.flush()
                finally:
                    os._exit(code)
        _, status = os.waitpid(pid, 0)
        send("exit", status)
