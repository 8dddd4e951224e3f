"""The numerical core: the RBFN (eq. 2), its training (§2.2), Theorem 1 expectations, pruning
(eq. 4-5) and model files.

Imports nothing from :mod:`rbfviz.data`, :mod:`rbfviz.viz` or :mod:`rbfviz.app`, and needs only
torch, numpy and safetensors, so it runs where the viewing libraries are not installed.
"""
