"""How a command fails: the usage error every command raises and the exit status of a cancel.

:func:`rbfviz.cli.main` prints a :class:`CliError` as ``rbfviz COMMAND: message`` and exits with 2;
library errors (``ValueError``, ``OSError``) pass through unchanged with exit status 1.
"""

from __future__ import annotations

EXIT_CANCELLED = 130  # the shell's code for "stopped by Ctrl-C"


class CliError(Exception):
    """A bad option or output path, found before any work starts (exit status 2)."""
