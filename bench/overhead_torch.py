"""SCRAM's cost in a plain PyTorch loop: the Keras benchmark's small CNN, with and without `ScramMonitor`, paired.

`python -m bench.overhead_torch [--pairs N] [--epochs N] [--wall]`: each pair trains the same CNN
from the same seed twice, once bare and once with the monitor (which goes first alternates between
pairs, so neither always meets a warmer cache), and the ratio of their times is one sample. The
workload is `python -m bench overhead`'s `cnn` written in PyTorch (2 conv + 2 dense on 8,192
generated 32x32x3 images, batch 32, 3 epochs: 768 steps), so the two figures compare. The median
ratio and its spread are printed; the issue's bar is a median of at most 1.05.
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
IMAGES = 8192


def cnn(filters: int = 16, outputs: int = 4) -> nn.Sequential:
    """`bench.models.cnn` in PyTorch: conv-pool twice, Dense 64, logits for `outputs` classes."""
    return nn.Sequential(nn.Conv2d(3, filters, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(filters, 2 * filters, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(2 * filters * 6 * 6, 64), nn.ReLU(), nn.Linear(64, outputs))


def train_seconds(epochs: int, monitored: bool, seed: int, clock=time.process_time) -> float:
    """Time of the whole loop (SCRAM's set-up and closing included) on `clock`.

    The process's CPU time by default: on a shared machine other processes' load moves the wall
    clock far more than SCRAM does (with one torch thread, CPU time is the loop's own work).
    """
    from tensorboard_plugin_scram import ScramMonitor

    x, y = data.images(IMAGES)
    x, y = torch.tensor(x).permute(0, 3, 1, 2).contiguous(), torch.tensor(y)  # channels first, as PyTorch wants
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
    print(f"ScramMonitor on the small CNN ({args.epochs} epochs of {IMAGES} images, batch {BATCH}), "
          f"{len(ratios)} pairs: "
          f"median {'wall' if args.wall else 'CPU'} time ratio {statistics.median(ratios):.3f} "
          f"(quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}, "
          f"min {min(ratios):.3f}, max {max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
