"""rbfviz: train, prune and look at radial basis function networks (Määttä et al., Neural Networks 2021)."""

__version__ = "0.1.0"
