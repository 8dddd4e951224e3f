"""Data: the 26-site FCC geometry, the TB-SMA potential and barrier generator, data sets and
barrier file formats (paper §3.2.1).  Imports :mod:`rbfviz.core` only."""
