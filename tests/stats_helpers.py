"""Statistical helpers for the data tests."""

from __future__ import annotations

import math

import numpy as np


def chi2_uniform_ok(counts: np.ndarray, z: float = 4.0) -> bool:
    """Chi-square goodness of fit to a uniform distribution, at roughly z sigma (Wilson-Hilferty)."""
    counts = np.asarray(counts, dtype=float)
    expected = counts.sum() / len(counts)
    statistic = ((counts - expected) ** 2 / expected).sum()
    return statistic <= chi2_critical(len(counts) - 1, z)


def chi2_critical(df: int, z: float = 4.0) -> float:
    """Approximate upper quantile of the chi-square distribution (Wilson-Hilferty)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2_same_ok(a: np.ndarray, b: np.ndarray, z: float = 4.0) -> bool:
    """Two-sample chi-square test that two histograms come from one distribution."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = (a + b) > 0
    a, b = a[keep], b[keep]
    na, nb = a.sum(), b.sum()
    statistic = (((a * math.sqrt(nb / na) - b * math.sqrt(na / nb)) ** 2) / (a + b)).sum()
    return statistic <= chi2_critical(len(a) - 1, z)
