"""The headless command line: ``train``, ``predict`` and ``--self-test``.

Invalid arguments exit with code 2 and a one-line message; runtime failures (a corrupt data
file, divergence) exit with code 1 and a message. No traceback reaches the user.
"""

from __future__ import annotations

import sys

USAGE = """usage: scratchnet [train|predict|--self-test] ...

  (no arguments)     open the desktop app
  train ...          train a network headless; see `scratchnet train --help`
  predict IMAGE      read a handwritten digit from an image file
  --self-test        check this installation (no display needed)
"""


def run_cli(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    if command == "train":
        from .train import main
    elif command == "predict":
        from .predict import main
    elif command == "--self-test":
        from .selftest import main
    else:
        sys.stdout.write(USAGE)
        return 0
    try:
        return main(rest)
    except SystemExit as exc:  # argparse: --help exits 0, a bad argument 2
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
