"""Reading ahead: a source's next chunk made on a thread of its own while the caller analyses the
current one.

For a HepMC file, what a chunk costs before the analysis sees it runs mostly outside Python's
lock (the parsing kernel, the inflating thread): on a machine with a spare core the next chunk is
read while the jets and the selection of the current one run, and a run takes about as long as
the slower of the two instead of their sum. Pythia is different: pythia8mc holds the lock for
the whole of ``nextBatch`` (measured: two threads generating take as long as one after the
other, and a Python loop beside it gets a thirtieth of its speed), so an SLHA point gains only
the analysis' own lock-free kernels (the jet clustering), which run while Pythia generates. The
chunks, their order and everything counted are the same: only when each is made changes.

At most one chunk is made ahead: the next one is started when the current one is handed over, so
a run holds two chunks at a time, never more (memory stays bounded by the chunk size). A source
that fails raises its error where the chunk it failed on would have been handed over, after
every chunk before it (as it would without reading ahead). Closing the reader (the ``with``
block's end, or the loop's: a ``for`` over :func:`read_ahead` that stops early) waits for the
chunk being made, then closes the source.

Reading ahead is on where it can help (:func:`wanted`): the process may use more than one core
and ``RECAST_READ_AHEAD`` is not ``0``. Dask workers run one task per core and set it to ``0``
(:data:`recast.parallel.WORKER_ENV`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

ENV = "RECAST_READ_AHEAD"
"""``0`` turns reading ahead off (a Dask worker's environment sets it)."""


def wanted() -> bool:
    """Whether reading ahead can help here: more than one core for this process, and not turned
    off by ``RECAST_READ_AHEAD=0``."""
    if os.environ.get(ENV, "1").strip() == "0":
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return cores > 1


_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Iterator[Any]):
    """The items of ``source``, each made on a reading thread while the previous one is used (see
    the module docstring). Use it in a ``with`` block or loop over it to the end; :meth:`close`
    stops the thread and closes the source."""

    def __init__(self, source: Iterable[Any]) -> None:
        self._source = iter(source)
        self._ready = threading.Condition()
        self._item: Any = None  # the next item, an error (_Failed) or _END; None while being made
        self._wanted = True  # the thread makes the next item
        self._closing = False
        self._done = False
        self._thread = threading.Thread(target=self._read, name="recast-read-ahead", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            with self._ready:
                while not (self._wanted or self._closing):
                    self._ready.wait()
                if self._closing:
                    return
                self._wanted = False
            try:
                item: Any = next(self._source)
            except StopIteration:
                item = _END
            except BaseException as exc:  # noqa: BLE001 (handed to the caller's thread, raised there)
                item = _Failed(exc)
            with self._ready:
                self._item = item
                self._ready.notify_all()
            if item is _END or isinstance(item, _Failed):
                return

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        with self._ready:
            while self._item is None:
                self._ready.wait()
            item, self._item = self._item, None
            if item is not _END and not isinstance(item, _Failed):
                self._wanted = True  # the next one is made while this one is used
                self._ready.notify_all()
        if item is _END:
            self._done = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Failed):
            self._done = True
            self._thread.join()
            raise item.error
        return item

    def close(self) -> None:
        """Stop reading ahead: wait for the item being made (thrown away), then close the source."""
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        self._thread.join()
        self._done = True
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_ahead(source: Iterable[Any], enabled: bool | None = None) -> Iterator[Any]:
    """The items of ``source``, read ahead on a thread when ``enabled`` (by default: where it can
    help, :func:`wanted`), else as they are. A generator: stopping the loop early (``break``, an
    error in its body) closes the reader and the source."""
    if not (wanted() if enabled is None else enabled):
        yield from source
        return
    with ReadAhead(source) as items:
        yield from items
