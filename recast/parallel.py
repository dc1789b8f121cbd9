"""Work on Dask: a local cluster of single-threaded worker processes, or an existing scheduler.

``recast scan`` runs one task per model point and ``recast validate`` one per benchmark point,
both through :func:`cluster` and :func:`as_finished`; a point of several generation blocks is one
task per block and one that merges them (:func:`submit` with the block tasks' futures as arguments).
Each worker runs one task at a time on one thread (:data:`WORKER_ENV`: BLAS, OpenMP and numba
are limited before they start; onnxruntime sessions are single-threaded already), so N workers
use N cores. A task whose worker dies (a crash in a C++ library, a killed process) is
rescheduled on another worker by the scheduler, up to Dask's ``distributed.scheduler.allowed-failures``
(3) times, then comes back as its exception, never as a hang or a lost task.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .errors import RecastError

# Each worker runs one point at a time, single-threaded: set before the worker imports anything.
# (RECAST_READ_AHEAD: no chunk is read ahead on a thread of its own, recast.events.ahead)
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1",
              "RECAST_READ_AHEAD": "0"}


UNWATCHED = {"distributed.worker.profile.enabled": False, "distributed.admin.system-monitor.interval": "5s",
             "distributed.admin.tick.interval": "500ms", "distributed.worker.memory.monitor-interval": "1s"}
"""Dask's own watching of a local cluster's workers, turned down: its statistical profiler
samples the running task's stack every 10 ms and its system monitor polls every 0.5 s, for a
dashboard that recast does not serve. 6 points of 1000 events on 2 workers: 6.03 and 6.28 s of
worker CPU per point with them, 5.95 and 5.92 without. Every server (scheduler, nannies,
workers) also wakes every 20 ms to time its event loop, and nannies and workers poll the worker's
memory every 0.1 s: each wake-up takes the GIL from the running point, on cores the points
share; now every 0.5 s and 1 s (benchmarks/scan.py, 2 workers: 17.17 and 17.28 points/min
steady against 17.03 and 17.11, within this machine's noise)."""


def limit_threads() -> None:
    """One thread per worker for everything that would start more (set before their import); and
    the worker's freed memory reused by its next chunks (:mod:`recast.memory`)."""
    from .memory import reuse_freed_memory

    os.environ.update(WORKER_ENV)
    reuse_freed_memory()


def default_workers() -> int:
    """Local worker processes when none are asked for: the cores, at most two."""
    return max(1, min(2, os.cpu_count() or 1))


def describe(workers: int | None, scheduler: str | None) -> str:
    """Where the tasks will run, in words."""
    return (f"the scheduler at {scheduler}" if scheduler else
            f"{workers or default_workers()} local worker process(es)")


def connect(workers: int | None = None, scheduler: str | None = None, timeout_s: float = 4.0):
    """A Dask client: on ``scheduler`` (an existing cluster; it must answer within ``timeout_s``)
    or on a new local cluster of ``workers`` single-threaded worker processes. Returns
    ``(client, cluster or None)``; :func:`cluster` closes both for you."""
    import logging

    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        _check_address(scheduler)
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False)
        except Exception as exc:  # refused, timed out, malformed address: all the user's to fix
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise RecastError(f"--scheduler {scheduler}: no Dask scheduler answers there ({reason})") from None
        finally:
            quiet.setLevel(level)
        client.run(limit_threads)
        return client, None
    n = workers or default_workers()
    pre = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {**pre, **WORKER_ENV}, **UNWATCHED}):
        local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address=None, silence_logs=logging.CRITICAL, env=dict(WORKER_ENV))
    try:
        client = Client(local, set_as_default=False)
    except BaseException:
        local.close()
        raise
    return client, local


@contextlib.contextmanager
def cluster(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A connected Dask client (see :func:`connect`), closed with its local cluster on exit."""
    client, local = connect(workers, scheduler)
    try:
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()


def _check_address(address: str) -> None:
    """Refuse a malformed scheduler address before a client is made (a client that fails in its
    constructor hangs for seconds when it is collected)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address)
        if scheme not in ("tcp", "tls", "ws", "wss"):
            raise ValueError(f"scheme {scheme}:// is not one of tcp, tls, ws, wss")
        parse_host_port(loc)
    except (ValueError, TypeError) as exc:
        raise RecastError(f"--scheduler {address}: not a scheduler address such as tcp://host:8786 ({exc})") from None


def submit(client, fn: Callable[..., Any], name: str, *args: Any, key_prefix: str, priority: int = 0):
    """``fn(*args)`` as one task (a unique key naming it, never cached); futures among ``args`` are
    waited for by the scheduler and passed as their results."""
    return client.submit(fn, *args, key=f"{key_prefix}-{name}-{uuid.uuid4().hex[:8]}", pure=False,
                         priority=priority)


def in_turn(client, names: Sequence[str], submit_point: Callable[[str], tuple[list[Any], Any]]) -> Iterator[tuple[str, Any]]:
    """Submit the points ``names`` in their order, each when the cluster has a thread free for
    it, and yield ``(name, result)`` as each point finishes (its exception instead when its
    worker failed). ``submit_point(name)`` submits a point's tasks and returns its block futures
    (none for a point of one block) and the future of its result; a point holds a thread per
    block until its blocks finish, one otherwise.

    Why not all at once: Dask gives each one-thread worker two of such tasks at a time, so a
    worker done early waits while the other still has a point queued behind its current one,
    and points take unequal times (a light LSP: more events selected; in benchmarks/scan.py's
    grid gqq_1800_100 takes about 1 s more than the other three)."""
    from distributed import as_completed

    waiting = list(names)[::-1]
    running = as_completed([], with_results=False, loop=client.loop)
    held: dict[Any, tuple[str, bool, int]] = {}  # future -> (point, whether it is the point's result, threads it frees)
    busy = 0

    def admit() -> None:
        nonlocal busy
        threads = max(1, sum(client.nthreads().values()))
        while waiting and busy < threads:
            name = waiting.pop()
            blocks, result = submit_point(name)
            for block in blocks:
                held[block] = (name, False, 1)
                running.add(block)
            held[result] = (name, True, 0 if blocks else 1)
            running.add(result)
            busy += max(len(blocks), 1)

    admit()
    for future in running:
        name, is_result, frees = held.pop(future)
        busy -= frees
        admit()
        if is_result:
            try:
                yield name, future.result()
            except Exception as exc:
                yield name, exc


def finished(client, futures: Mapping[Any, str]):
    """``(name, result)`` of each future of ``futures`` (future -> name) as it finishes; a task whose
    worker failed (or one it waited for) yields the exception instead of raising it."""
    from distributed import as_completed

    for future in as_completed(list(futures), loop=client.loop):
        try:
            yield futures[future], future.result()
        except Exception as exc:
            yield futures[future], exc


def as_finished(client, fn: Callable[[Any], Any], tasks: Mapping[str, Any], key_prefix: str):
    """Submit ``fn(task)`` per name (in the given order, first first) and yield ``(name, result)``
    as they finish; a task whose worker failed yields the exception instead of raising it."""
    futures = {submit(client, fn, name, task, key_prefix=key_prefix, priority=-i): name
               for i, (name, task) in enumerate(tasks.items())}
    yield from finished(client, futures)


def warm_up(client, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` on every worker now, all at once (imports, models, compiled kernels), so
    that what each worker pays once is paid at the start, in parallel, not by its first task. A
    worker that fails it is left to fail its tasks, with their own errors."""
    with contextlib.suppress(Exception):
        client.run(fn, *args)
