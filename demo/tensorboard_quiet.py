"""`python -m demo.tensorboard_quiet ARGS`: `tensorboard ARGS` without TensorFlow's start-up noise."""

from __future__ import annotations

import sys

from demo.quiet import import_tensorflow_quietly

if __name__ == "__main__":
    import_tensorflow_quietly()
    from tensorboard.main import run_main

    sys.argv = ["tensorboard", *sys.argv[1:]]
    sys.exit(run_main())
