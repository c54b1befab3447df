"""Exceptions with messages a user can act on."""


class ScratchnetError(Exception):
    """Base class of every error scratchnet raises on purpose."""


class DatasetError(ScratchnetError, ValueError):
    """A data file or folder is missing, malformed or inconsistent. The message names the file."""


class DatasetTooLarge(DatasetError):
    """A data file larger than the size accepted without asking (``limits.MAX_CSV_BYTES``). Loading
    it again with ``allow_large=True`` (the window asks first; ``--allow-large`` on the command
    line) reads it anyway."""


class ModelFileError(ScratchnetError, ValueError):
    """A saved model file cannot be read: not ours, corrupt, or inconsistent."""


class TrainingDiverged(ScratchnetError, RuntimeError):
    """The loss became NaN or infinite. The model keeps its last finite weights."""


class SaveError(ScratchnetError, OSError):
    """A file cannot be written where the user asked. The message names the user's path."""


class ExplainError(ScratchnetError, ValueError):
    """A model or an input that cannot be looked inside: a wrong-sized image, a label out of
    range, a model whose weights are not finite. The message says which and why."""
