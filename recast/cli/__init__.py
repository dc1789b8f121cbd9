"""The ``recast`` command line: argument parsing, progress and messages; the work is done by the
library (``recast.pipeline``, ``recast.stats``, ``recast.scan``, ``recast.validation``, ...).

==============  ==========================================================================
``parser``      the argument parser of every command
``info``        ``recast list``, ``recast info``
``run``         ``recast run``, ``recast generate``, ``recast make-slha``
``limit``       ``recast limit``
``probe``       ``recast probe``
``scan``        ``recast scan``, ``recast plot-exclusion``
``validate``    ``recast validate``
``data``        ``recast data ...``, ``recast convert tmva``
``common``      messages, progress bars, option pairs, exit codes
==============  ==========================================================================

Every input problem ends as one line on stderr (``recast: error: <file or object>: <cause>``)
and a non-zero exit code, never a traceback; ``--debug`` shows tracebacks of internal errors.
"""

from __future__ import annotations

import warnings

from .common import EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, say
from .parser import build_parser

__all__ = ["build_parser", "main"]


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    say(f"warning: {message}")


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: the process' arguments); returns the exit code."""
    from ..errors import RecastError
    from ..memory import reuse_freed_memory

    reuse_freed_memory()  # chunk after chunk of the same sizes: no fresh pages to fault in each time
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run" and not (args.analysis or args.analyses):
        parser.error("run: give the analyses to run (ids, aliases or 'all'; see 'recast list')")
    warnings.showwarning = _warning_line
    try:
        return args.func(args)
    except RecastError as exc:
        say(f"error: {exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not bad input: say so in one line unless debugging
        if args.debug:
            raise
        say(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return EXIT_INTERNAL
