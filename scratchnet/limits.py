"""How large a network the app trains: caps on hidden layers, widths and parameters, with reasons.

A settings file or ``--hidden`` can ask for 10,000 layers of 4,096 units (168 billion parameters);
these caps refuse that with a reason before anything is built.
"""

from __future__ import annotations

from itertools import pairwise

MAX_WIDTH = 4096
MAX_HIDDEN_LAYERS = 32
MAX_TRAIN_PARAMETERS = 20_000_000
# weights, gradients and up to two optimiser states, in float32
BYTES_PER_TRAINED_PARAMETER = 16

# Imported data sets (scratchnet.data_import): a CSV larger than this is read only when the user
# agrees (DatasetTooLarge otherwise); a class count outside MIN..MAX_CLASSES is refused; an image
# whose header claims a side longer than MAX_IMAGE_SIDE is refused before it is decoded.
MAX_CSV_BYTES = 2 << 30
MIN_CLASSES = 2
MAX_CLASSES = 100
MAX_IMAGE_SIDE = 8192
MAX_IMPORT_SIDE = 256  # the largest square side an imported data set is resized to
MAX_IMAGE_FOLDER_BYTES = 4 << 30  # float32 pixels of all the images of image folders, read without asking

LAYERS_REASON = (f"at most {MAX_HIDDEN_LAYERS} hidden layers: deeper plain networks barely train "
                 "without normalisation, and the layer list must stay readable")


def parameter_count(widths: list[int]) -> int:
    """Weights plus biases of the Dense layers joining consecutive ``widths``."""
    return sum(a * b + b for a, b in pairwise(widths))


def architecture_problem(widths: list[int]) -> str | None:
    """Why a network of these layer ``widths`` (input, hidden…, output) is refused, or None."""
    hidden = widths[1:-1]
    if len(hidden) > MAX_HIDDEN_LAYERS:
        return f"{len(hidden):,} hidden layers is too many: {LAYERS_REASON}"
    wide = next((w for w in hidden if not 1 <= w <= MAX_WIDTH), None)
    if wide is not None:
        return f"a hidden layer of {wide:,} units is outside 1 to {MAX_WIDTH:,}"
    count = parameter_count(widths)
    if count > MAX_TRAIN_PARAMETERS:
        megabytes = MAX_TRAIN_PARAMETERS * BYTES_PER_TRAINED_PARAMETER // 10**6
        return (f"{count:,} parameters is too many: at most {MAX_TRAIN_PARAMETERS:,} "
                f"(training keeps {BYTES_PER_TRAINED_PARAMETER} bytes per parameter, {megabytes:,} MB at the cap, "
                "and an epoch would take hours on a CPU)")
    return None
