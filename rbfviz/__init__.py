"""rbfviz: train, prune and look at radial basis function networks (Määttä et al., Neural Networks 2021).

The public API, re-exported from the layers that define it (core ← data ← viz ← app):

>>> import rbfviz
>>> rbfviz.RBFN(26, 8).num_centroids
8

The module paths of earlier releases (``rbfviz.model``, ``rbfviz.train``, ``rbfviz.prune``,
``rbfviz.expectations``, ``rbfviz.store``, ``rbfviz.datasets``, ``rbfviz.barriers``,
``rbfviz.lattice``) are the same module objects as their new homes:

>>> import rbfviz.train, rbfviz.core.train
>>> rbfviz.train is rbfviz.core.train
True
"""

import sys
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rbfviz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from rbfviz.core import expectations, model, prune, store, train
from rbfviz.core.expectations import (
    Bernoulli,
    Distribution,
    GaussianMixture,
    Normal,
    Uniform,
    distribution_from_description,
)
from rbfviz.core.model import RBFN
from rbfviz.core.prune import PruneConfig, PruneResult, pruning_loss
from rbfviz.core.prune import prune as prune_model
from rbfviz.core.store import ModelFileError, content_hash, load_model, save_model
from rbfviz.core.train import TrainConfig, TrainResult, train_dataset
from rbfviz.data import barriers, datasets, lattice
from rbfviz.data.barriers import GeneratorConfig, compute_barriers, generate_dataset
from rbfviz.data.datasets import Dataset, load_barriers, write_26d
from rbfviz.data.formats_stream import DataFormatError
from rbfviz.data.lattice import DEFAULT_SITES, GROUPS, SURFACES, SiteTable

# Earlier module paths, kept for scripts outside the project: each name is the module itself.
for _name, _module in {
    "model": model,
    "train": train,
    "prune": prune,
    "expectations": expectations,
    "store": store,
    "datasets": datasets,
    "barriers": barriers,
    "lattice": lattice,
}.items():
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module

__all__ = [
    "RBFN",
    "Bernoulli",
    "Dataset",
    "DataFormatError",
    "DEFAULT_SITES",
    "Distribution",
    "GaussianMixture",
    "GeneratorConfig",
    "GROUPS",
    "ModelFileError",
    "Normal",
    "PruneConfig",
    "PruneResult",
    "SURFACES",
    "SiteTable",
    "TrainConfig",
    "TrainResult",
    "Uniform",
    "compute_barriers",
    "content_hash",
    "distribution_from_description",
    "generate_dataset",
    "load_barriers",
    "load_model",
    "prune_model",
    "pruning_loss",
    "save_model",
    "train_dataset",
    "write_26d",
]
