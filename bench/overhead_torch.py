"""SCRAM's cost in a plain PyTorch loop: a small CNN on the digits, with and without `ScramMonitor`, as a paired ratio.

`python -m bench.overhead_torch [--pairs N] [--epochs N]`: each pair trains the same CNN from the
same seed twice, once bare and once with the monitor (which goes first alternates between pairs,
so neither always meets a warmer cache), and the ratio of their wall times is one sample. The
median ratio and its spread are printed; the issue's bar is a median of at most 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

from bench import data

BATCH = 32


def cnn() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 16, 64), nn.ReLU(), nn.Linear(64, 10))


def train_seconds(epochs: int, monitored: bool, seed: int, clock=time.process_time) -> float:
    """Time of the whole loop (SCRAM's set-up and closing included) on `clock`.

    The process's CPU time by default: on a shared machine other processes' load moves the wall
    clock far more than SCRAM does (with one torch thread, CPU time is the loop's own work).
    """
    from tensorboard_plugin_scram import ScramMonitor

    x, y = data.digits()
    x, y = torch.tensor(x.reshape(-1, 1, 8, 8)), torch.tensor(y)
    torch.manual_seed(seed)
    model, loss_fn = cnn(), nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with tempfile.TemporaryDirectory() as log_dir:
        started = clock()
        scram = ScramMonitor(model, optimizer, log_dir, loss_fn=loss_fn, verbose=False) if monitored else None
        for _ in range(epochs):
            model.train()
            for index in torch.randperm(len(x)).split(BATCH):
                optimizer.zero_grad()
                loss = loss_fn(model(x[index]), y[index])
                loss.backward()
                optimizer.step()
                if scram is not None:
                    scram.step(loss)
            if scram is not None:
                scram.end_epoch()
        if scram is not None:
            scram.close()
        return clock() - started


def paired_ratios(pairs: int, epochs: int, clock=time.process_time) -> list[float]:
    train_seconds(1, True, 0)  # warm-up: imports, first allocations
    ratios = []
    for pair in range(pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        seconds = {monitored: train_seconds(epochs, monitored, pair, clock) for monitored in order}
        ratios.append(seconds[True] / seconds[False])
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead_torch", description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the process's CPU time")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # a steadier clock on a shared machine
    ratios = paired_ratios(args.pairs, args.epochs, time.perf_counter if args.wall else time.process_time)
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
    print(f"ScramMonitor on a small CNN ({args.epochs} epochs of the digits, batch {BATCH}), {len(ratios)} pairs: "
          f"median {'wall' if args.wall else 'CPU'} time ratio {statistics.median(ratios):.3f} "
          f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}, "
          f"min {min(ratios):.3f}, max {max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
