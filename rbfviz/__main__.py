"""``python -m rbfviz``: the command line (:mod:`rbfviz.cli`)."""

import sys

from rbfviz.cli import main

sys.exit(main())
