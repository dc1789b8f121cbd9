"""``python -m recast.cli``: the same as the ``recast`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
