"""The headless command line: ``train``, ``predict``, ``explain`` and ``--self-test``.

Invalid arguments exit with code 2 and a one-line message; runtime failures (a corrupt data
file, divergence, a file that cannot be saved) exit with code 1 and a message. No traceback
reaches the user: a reader that closes the pipe early (``| head``) ends the command quietly, a
closed stdout or stderr is replaced by the null device, and anything unexpected is reported in one
line (``SCRATCHNET_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import os
import sys

USAGE = """usage: scratchnet [train|resume|predict|explain|--self-test] ...

  (no arguments)     open the desktop app
  train ...          train a network headless; see `scratchnet train --help`
  resume DIR ...     go on training a run saved with `train --run-dir DIR`
  predict IMAGE      read a handwritten digit from an image file
  explain IMAGE      follow a digit forward and backward (or --test-index N)
  --self-test        check this installation (no display needed)
"""


def run_cli(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    if command == "train":
        from .train import main
    elif command == "resume":
        from .resume import main
    elif command == "predict":
        from .predict import main
    elif command == "explain":
        from .explain import main
    elif command == "--self-test":
        from .selftest import main
    else:
        sys.stdout.write(USAGE)
        return 0
    _replace_closed_streams()
    from scratchnet.paths import ignored_cache_settings

    try:
        for note in ignored_cache_settings():
            sys.stderr.write(f"note: {note}\n")
        code = main(rest)
        sys.stdout.flush()  # here, so that a closed pipe is caught below and not at the exit
        return code
    except SystemExit as exc:  # argparse: --help exits 0, a bad argument 2
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        # the reader left (`| head`): stop quietly, and let the exit-time flush write nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except MemoryError:
        sys.stderr.write(f"scratchnet {command}: out of memory\n")
        return 1
    except Exception as exc:  # the README promises no traceback; say what it was, in one line
        if os.environ.get("SCRATCHNET_DEBUG"):
            raise
        sys.stderr.write(f"scratchnet {command}: unexpected error: {type(exc).__name__}: {exc} "
                         "(please report it; SCRATCHNET_DEBUG=1 shows the traceback)\n")
        return 1


def _replace_closed_streams() -> None:
    """Started with stdout or stderr closed (``>&-``), Python sets them to None: write to the
    null device instead, so that printing is not an AttributeError."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
