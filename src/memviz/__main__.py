"""``python -m memviz``: a live report of this interpreter, and the commands ``report``,
``snapshot``, ``diff`` and ``run`` (see ``python -m memviz --help``)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
