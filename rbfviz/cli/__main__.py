"""``python -m rbfviz.cli``: the same as ``python -m rbfviz``."""

import sys

from rbfviz.cli import main

sys.exit(main())
