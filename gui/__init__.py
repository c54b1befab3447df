"""The desktop app: PySide6 widgets and pyqtgraph plots around the scratchnet engine.

Widgets hold no training maths: they collect settings, start a worker thread that runs
``scratchnet.training.train`` and draw what it reports.
"""
