"""The statistics the tables and reports share: the 95% quantiles, the Wilson interval of a success
rate, and how counts of sequences read (a median, or ``>budget`` where it lies beyond the budget)."""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

Z_975 = NormalDist().inv_cdf(0.975)  # the normal quantile of a two-sided 95% interval, 1.959964
# Two-sided 95% quantiles of Student's t for 1 .. 30 degrees of freedom.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (a table to 30, then the
    Cornish-Fisher expansion, within 1e-3)."""
    if df <= len(T_975):
        return T_975[df - 1]
    z = Z_975
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a binomial proportion (Wilson 1927), which stays inside
    [0, 1] and is not empty at 0/n or n/n, unlike the normal approximation."""
    p, z2 = successes / trials, Z_975 ** 2
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = Z_975 * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials ** 2)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def count(value: float) -> str:
    """31,390 -> '31k'; 1,500 -> '1.5k'."""
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}"


def exact(value: float) -> str:
    """31,390 -> '31,390'."""
    return f"{value:,.0f}"


def median_or_beyond(median: float | None, budget: int, shown: Callable[[float], str] = count) -> str:
    """A median of sequences to solve, or '>budget' when half or more of the runs did not solve
    within the budget (the median then lies beyond it)."""
    return shown(median) if median is not None else f">{shown(budget)}"
