"""Pictures: the palette, per-prototype statistics (Figure 5), PyVista scenes (Figure 4),
HoloViews charts and publication exports.  Imports :mod:`rbfviz.core` and :mod:`rbfviz.data`."""
