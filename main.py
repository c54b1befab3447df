"""scratchnet entry point.

    python main.py                 open the desktop app
    python main.py train ...       train headless (see `python main.py train --help`)
    python main.py resume DIR ...  go on training a run saved with `train --run-dir DIR`
    python main.py predict IMG     read a handwritten digit from an image file
    python main.py explain IMG     follow a digit forward and backward (or --test-index N)
    python main.py --self-test     check this installation, no display needed
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in ("train", "resume", "predict", "explain", "--self-test") or argv[0] in ("-h", "--help")):
        from cli import run_cli

        return run_cli(argv)
    from gui.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
