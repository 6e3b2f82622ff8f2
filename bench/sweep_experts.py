"""Healthy sweep setups in the style of experts' example programs: a custom output layer,
in-model Rescaling/Normalization, a recommender regressing ratings with binary cross-entropy,
a fraud-style classifier with 0.2% positives and class weights, a GAN and a VAE with their own
`train_step` (issue 17).
"""

from __future__ import annotations

from bench.zoo.registry import Setup

SETUPS: tuple[Setup, ...] = ()
