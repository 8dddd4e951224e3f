"""Sweeps of the paper's central experiment (§3.2.1, Table 1, Figures 3 and 5) on Dask.

:func:`run_sweep` runs the grid surfaces × K × splits (and optionally the pruning of every trained
network to M prototypes under a distribution, and the XGBoost and deep-network baselines on the
same splits) as Dask tasks: on an embedded ``LocalCluster`` by default, on any cluster given by a
``Client``.  Every finished cell is on disk under a content key, so a sweep resumes where it
stopped and a repeated call computes nothing.

Modules: :mod:`~rbfviz.sweep.grid` (settings, cells, keys), :mod:`~rbfviz.sweep.tasks` (the work
of a cell), :mod:`~rbfviz.sweep.baselines` (XGBoost, MLP), :mod:`~rbfviz.sweep.runner` (Dask),
:mod:`~rbfviz.sweep.tables` (Table 1, Figure 3 and Figure 5 data).
"""

from rbfviz.sweep.baselines import MLPConfig, XGBConfig, fit_mlp, fit_xgboost
from rbfviz.sweep.grid import Cell, SweepConfig, make_cells
from rbfviz.sweep.runner import SweepCancelled, run_sweep
from rbfviz.sweep.tables import figure3_chart, figure5_findings, pruned_networks, read_results, table1, table1_markdown

__all__ = [
    "Cell",
    "MLPConfig",
    "SweepCancelled",
    "SweepConfig",
    "XGBConfig",
    "figure3_chart",
    "figure5_findings",
    "fit_mlp",
    "fit_xgboost",
    "make_cells",
    "pruned_networks",
    "read_results",
    "run_sweep",
    "table1",
    "table1_markdown",
]
