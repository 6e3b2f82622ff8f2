"""Data sets that need no download: scikit-learn's shipped sets and generated data.

Every function is deterministic (fixed seeds) and returns float32 features.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine, make_classification

Arrays = tuple[np.ndarray, np.ndarray]


def shuffled(x: np.ndarray, y: np.ndarray, seed: int = 0) -> Arrays:
    """The same samples in a fixed random order."""
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order], y[order]


def standardized(x: np.ndarray) -> np.ndarray:
    """Per-feature z-scores."""
    return ((x - x.mean(0)) / (x.std(0) + 1e-8)).astype("float32")


def digits(scaled: bool = True) -> Arrays:
    """scikit-learn's 8x8 digits (1797 samples, 10 classes), shuffled; pixels 0..16 or scaled to [0, 1]."""
    x, y = shuffled(*load_digits(return_X_y=True))
    return (x / 16.0 if scaled else x).astype("float32"), y


def breast_cancer(scaled: bool = True) -> Arrays:
    """Breast-cancer features (569 samples, binary), shuffled; z-scored or raw (up to ~4000)."""
    x, y = shuffled(*load_breast_cancer(return_X_y=True))
    return (standardized(x) if scaled else x.astype("float32")), y.astype("float32")


def wine() -> Arrays:
    """Wine features (178 samples, 3 classes), z-scored and shuffled."""
    x, y = shuffled(*load_wine(return_X_y=True))
    return standardized(x), y


def diabetes() -> Arrays:
    """Diabetes regression (442 samples), features and target z-scored, shuffled."""
    x, y = shuffled(*load_diabetes(return_X_y=True))
    return standardized(x), standardized(y.reshape(-1, 1)).ravel()


def tabular(samples: int, features: int, classes: int, seed: int = 0, **kwargs) -> Arrays:
    """A generated classification problem (`sklearn.datasets.make_classification`), z-scored."""
    x, y = make_classification(n_samples=samples, n_features=features, n_informative=min(features, 8),
                               n_redundant=0, n_classes=classes, n_clusters_per_class=1,
                               random_state=seed, **kwargs)
    return standardized(x), y


def images(samples: int = 1024, classes: int = 4, raw: bool = False, seed: int = 0) -> Arrays:
    """Generated 32x32x3 images: class k has a bright patch in its own place and colour, plus noise.

    Pixels are 0..255 when `raw`, else scaled to [0, 1].
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, samples)
    x = rng.normal(100, 30, (samples, 32, 32, 3))
    for k in range(classes):
        row, col = divmod(k, 2)
        x[y == k, 4 + 14 * row: 14 + 14 * row, 4 + 14 * col: 14 + 14 * col, k % 3] += 90
    x = np.clip(x, 0, 255)
    return (x if raw else x / 255.0).astype("float32"), y


def tokens(samples: int = 2000, length: int = 40, vocab: int = 500, cue: float = 0.15, seed: int = 0) -> Arrays:
    """Generated "reviews": token ids in [1, vocab); a `cue` share of the words of
    positive ones come from a set of 25 positive words, of negative ones from 25 negative words."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, samples)
    x = rng.integers(1, vocab, (samples, length))
    cued = rng.random((samples, length)) < cue
    words = np.where(y[:, None] == 1, rng.integers(1, 26, (samples, length)), rng.integers(26, 51, (samples, length)))
    x = np.where(cued, words, x)
    return x.astype("int32"), y.astype("float32")
