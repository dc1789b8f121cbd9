"""What every command shares: messages on stderr, progress bars, option pairs (and ``--detector``),
exit codes."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 3, 130


def say(msg: str) -> None:
    """One line on stderr, prefixed ``recast:``."""
    print(f"recast: {msg}", file=sys.stderr)


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``-O NAME=VALUE`` pairs as a mapping (values still text)."""
    from ..errors import RecastError

    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise RecastError(f"-O {p!r}: write options as name=value")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def with_detector(pairs: dict[str, str], card: str | None, analyses) -> dict[str, str]:
    """``-O`` pairs with ``--detector CARD`` added for every one of ``analyses`` (each must have the
    ``detector`` option); the card is checked now, before any event, and a file named by its
    absolute path (so that workers elsewhere find it)."""
    from .. import detector
    from ..errors import RecastError

    if card is None:
        return pairs
    if pairs.get("detector", card) != card:
        raise RecastError(f"--detector {card} and -O detector={pairs['detector']}: give the card once")
    lacking = [a.id for a in analyses if "detector" not in {o.name for o in a.options}]
    if lacking:
        raise RecastError(f"--detector: {', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no 'detector' "
                          f"option (truth-level objects only)")
    detector.load(card)
    return {**pairs, "detector": detector.canonical(card)}


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


@contextlib.contextmanager
def progress(total: int | None, label: str):
    """A progress bar on stderr, or none at all (not even its blank line) when stderr is not a
    terminal. Its console writes to its own duplicate of the terminal's descriptor, so that
    anything redirecting descriptor 2 for a while cannot take the bar with it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn() if total else
               TextColumn("{task.completed} events"), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn()]
    if total:
        columns.append(TimeRemainingColumn())
    with os.fdopen(os.dup(2), "w", buffering=1) as stream:
        console = Console(file=stream)
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
            yield bar
