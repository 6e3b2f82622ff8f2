"""`python -m bench [zoo] [overhead] [scale] [sweep] [--quick] [--only NAME ...] [--backend NAME]`: runs benchmarks."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PARTS = ("zoo", "overhead", "scale", "sweep")
BACKENDS = ("tensorflow", "jax", "torch")
HERE = os.path.dirname(os.path.abspath(__file__))
# The PyTorch zoo's runs, written by `python -m bench.zoo_torch --json bench/results_torch.json`.
TORCH_RESULTS = "results_torch.json"
QUICK_ZOO = ("healthy_mlp_digits", "healthy_text_embedding", "paper_overfitting", "paper_lr_1e10_text",
             "paper_unnormalized_pixels", "nan_in_inputs")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; exits with a usage error for an unknown part."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"any of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="a short run: fewer scenarios, repeats and sizes")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="zoo: only these scenarios")
    parser.add_argument("--workloads", nargs="+", metavar="NAME",
                        help="overhead: only these workloads (cnn, cnn_short, cnn_10_epochs, mlp)")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help="overhead: at most N paired repeats per workload (a slower backend's shorter run)")
    parser.add_argument("--logdir", help="zoo: keep SCRAM's logs in LOGDIR/<scenario> (for `scram report`)")
    parser.add_argument("--list", action="store_true", help="list the zoo's scenarios and exit")
    parser.add_argument("--report", action="store_true",
                        help=f"run nothing: write results.md again from results.json and {TORCH_RESULTS}")
    parser.add_argument("--out", default=HERE, help="directory for results.md and results.json (default: bench/)")
    parser.add_argument("--backend", choices=BACKENDS, default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                        help="Keras backend to train on (default: $KERAS_BACKEND, else tensorflow); results of "
                             "another backend than TensorFlow are kept beside TensorFlow's, e.g. as zoo_jax")
    args = parser.parse_args(argv)
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part {unknown[0]!r} (choose from {', '.join(PARTS)})")
    return args


def progress(line: str) -> None:
    """Progress goes to stderr, so stdout stays clean."""
    print(line, file=sys.stderr, flush=True)


def run_part(part: str, args: argparse.Namespace) -> dict:
    """Imports lazily, so `--list` and `--help` stay fast."""
    if part == "zoo":
        from bench import detection

        return detection.run(args.only or (list(QUICK_ZOO) if args.quick else None), progress, args.logdir)
    if part == "overhead":
        from bench import overhead

        return overhead.run(args.quick, progress, args.workloads, args.repeats)
    if part == "sweep":
        from bench import sweep

        return sweep.run(args.quick, progress)
    from bench import scale

    return scale.run(args.quick, progress)


def load(path: str) -> dict | list:
    """Earlier results, so that running one part keeps the others' figures (the PyTorch zoo's: a list)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def write_markdown(results: dict, out: str) -> str:
    """Writes OUT/results.md from these results and the PyTorch zoo's stored beside them; returns its path."""
    from bench import report

    md_path = os.path.join(out, "results.md")
    with open(md_path, "w", encoding="utf-8") as handle:
        handle.write(report.render(results, pytorch=load(os.path.join(out, TORCH_RESULTS)) or None))
    return md_path


def main(argv: list[str] | None = None) -> int:
    """Runs the chosen parts, merges them into earlier results, writes results.md and results.json."""
    args = parse(argv)
    if args.report:
        progress(f"wrote {write_markdown(load(os.path.join(args.out, 'results.json')), args.out)}")
        return 0
    if args.list:
        from bench import zoo

        for s in zoo.select():
            print(f"{s.name:32} {s.kind:8} {', '.join(sorted(s.expected)) or '(healthy)'}")
        return 0
    parts = args.parts or list(PARTS)
    os.environ["KERAS_BACKEND"] = args.backend  # before anything imports Keras
    json_path, md_path = os.path.join(args.out, "results.json"), os.path.join(args.out, "results.md")
    results = load(json_path)
    started = time.perf_counter()
    for part in parts:
        key = part if args.backend == "tensorflow" or part == "scale" else f"{part}_{args.backend}"
        results[key] = run_part(part, args)
        partial = (part == "zoo" and args.only) or (part == "overhead" and args.workloads)
        results.setdefault("quick", {})[key] = bool(args.quick or partial)
    from bench import machine
    from tensorboard_plugin_scram.diagnostic import json_safe

    results["machine"] = machine.describe()
    if set(parts) == set(PARTS):
        results["total_s"] = time.perf_counter() - started
    os.makedirs(args.out, exist_ok=True)
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(json_safe(results), handle, indent=1, allow_nan=False)
    write_markdown(results, args.out)
    progress(f"wrote {md_path} and {json_path} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
