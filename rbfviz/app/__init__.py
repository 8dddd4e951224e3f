"""The rbfviz Panel dashboard: per-session state (``state``), one module per view, composed in ``main``.

Start it with ``python launch.py``; build it in Python with :func:`rbfviz.app.main.create_app`.
"""
