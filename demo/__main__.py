"""`python -m demo`: trains the paper's scenarios into a logdir, reports, and serves TensorBoard."""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import time
import types

from demo.quiet import import_tensorflow_quietly, quiet_environment

# Before anything imports TensorFlow: the first lines the user reads are the demo's.
quiet_environment()

FRAMEWORKS = ("keras", "torch")


def build_parser() -> argparse.ArgumentParser:
    from demo.scenarios import SCENARIOS

    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="Train the SCRAM paper's three faulty scenarios and their fixes, print "
        "`scram report`, and start TensorBoard with the SCRAM tab on 127.0.0.1.",
    )
    parser.add_argument("--logdir", default="logs", help="where to write the runs (default: ./logs)")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS],
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer epochs (for tests)")
    parser.add_argument("--no-tensorboard", action="store_true", help="do not start TensorBoard")
    parser.add_argument("--port", type=int, default=6006, help="TensorBoard's port (default: 6006)")
    parser.add_argument("--keep", action="store_true", help="keep earlier runs in LOGDIR instead of replacing them")
    parser.add_argument("--framework", choices=FRAMEWORKS, default="keras",
                        help="keras (default), or torch: the same scenarios as plain PyTorch loops with "
                             "ScramMonitor, written to LOGDIR/torch/<scenario>")
    return parser


def scenarios_module(framework: str) -> types.ModuleType:
    """`demo.scenarios` (Keras) or `demo.torch_scenarios`: each has SCENARIOS, seed() and run_dir().

    PyTorch is imported only for `--framework torch`: the Keras demo never loads it.
    """
    try:
        return importlib.import_module("demo.torch_scenarios" if framework == "torch" else "demo.scenarios")
    except ModuleNotFoundError as missing:
        if missing.name != "torch":
            raise
        raise SystemExit("`python -m demo --framework torch` needs PyTorch: pip install torch") from missing


def main(argv: list[str] | None = None) -> int:
    # Keras' own TensorBoard callback, which the demo runs beside SCRAM, writes through
    # TensorFlow on every backend (SCRAM itself does not need it on JAX or PyTorch).
    import_tensorflow_quietly()
    args = build_parser().parse_args(argv)
    from demo import data

    scenarios = scenarios_module(args.framework)
    chosen = [s for s in scenarios.SCENARIOS if not args.scenario or s.name in args.scenario]
    datasets: dict[str, data.Dataset] = {}
    for scenario in chosen:
        run_dir = scenarios.run_dir(args.logdir, scenario)
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        if scenario.loader not in datasets:
            datasets[scenario.loader] = data.LOADERS[scenario.loader]()
            print(f"data: {datasets[scenario.loader].name}", flush=True)
        epochs = scenario.quick_epochs if args.quick else scenario.epochs
        started = time.perf_counter()
        scenarios.seed(0)
        scenario.train(run_dir, epochs, datasets[scenario.loader])
        print(f"trained {os.path.relpath(run_dir, args.logdir):<24} ({scenario.story}, {epochs} epochs) "
              f"in {time.perf_counter() - started:.1f}s", flush=True)
    print()
    subprocess.run([sys.executable, "-m", "tensorboard_plugin_scram.cli", "report", "--fail-on", "never",
                    args.logdir], check=False)
    if args.no_tensorboard:
        return 0
    return serve(args.logdir, args.port)


def serve(logdir: str, port: int) -> int:
    """Runs TensorBoard on 127.0.0.1 until Ctrl-C."""
    # TensorBoard imports TensorFlow too: the wrapper keeps its start-up lines away.
    command = [sys.executable, "-m", "demo.tensorboard_quiet", "--logdir", logdir, "--host", "127.0.0.1",
               "--port", str(port)]
    print(f"\nTensorBoard with the SCRAM tab: http://127.0.0.1:{port}/#scram   (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
