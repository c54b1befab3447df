"""scratchnet: a neural network from scratch in NumPy, with hand-derived backpropagation.

NumPy and the standard library only; the GUI lives in the separate ``gui`` package.
"""

__version__ = "0.1.0"
