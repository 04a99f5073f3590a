"""Error bars and derived quantities of Lyapunov exponents.

* :class:`BatchMeans`: the standard error of each exponent from one trajectory, by batch
  means over blocks of the per-QR increments log R_ii (``docs/derivations.md``, section 9).
* :func:`ensemble_mean`: mean and standard error across independent trajectories or
  networks.
* :func:`kaplan_yorke_dimension` and :func:`entropy_bound`: the sum of the positive
  exponents, which by Ruelle's inequality is an upper bound on the Kolmogorov-Sinai
  entropy rate.  Pesin's formula, the equality, holds for SRB measures.

The finite-time exponents and the convergence stop use these from
:func:`floss_ref.lyapunov_spectrum` and :func:`floss_ref.core.lyapunov.finite_time_exponents`.
"""

import math
import warnings

import numpy as np
from scipy import stats

from floss_ref import _validate

# A block estimate needs this many blocks before its standard error means anything; the
# spectrum reports NaN below it.
MIN_BLOCKS = 16
# Blocks are merged pairwise when there are 2 * MAX_BLOCKS of them, so that a run keeps
# 1 to 2 * MAX_BLOCKS - 1 complete blocks before the first merge and MAX_BLOCKS to
# 2 * MAX_BLOCKS - 1 after it, in O(MAX_BLOCKS k) memory.
MAX_BLOCKS = 32
# Under independence the lag-1 autocorrelation of n block means is about N(-1/n, 1/n);
# above max(AUTOCORR_FLOOR, 3/sqrt(n)) the blocks are called too short.
AUTOCORR_FLOOR = 0.2
# Block estimates that differ by less than this (per step) agree to round-off: their
# correlation says nothing about block lengths, and no warning is given.
ROUND_OFF_SPREAD = 1e-10


class ShortBlocksWarning(RuntimeWarning):
    """Consecutive block means are correlated: the standard errors are too small."""


class BatchMeans:
    """Online batch means of the per-QR increments of gamma = sum log R_ii.

    Each QR after the transient adds ``log_r : (*batch, k)`` over ``steps`` time steps.
    Increments are summed into blocks of ``block_qrs`` QRs.  When 2 * MAX_BLOCKS blocks
    are complete, neighbours are merged and ``block_qrs`` doubles, so the block length
    grows with the run and the memory stays bounded.  The block estimates
    ``lambda_b = (sum of log R_ii in block b) / (steps in block b)`` are nearly independent
    when blocks are much longer than the correlation time of the increments; their
    spread gives the standard error of lambda (``docs/derivations.md``, section 9).

    Parameters
    ----------
    shape : tuple
        ``(*batch, k)``.
    """

    def __init__(self, shape):
        self.block_qrs = 1
        self._sums, self._steps = [], []
        self._cur = np.zeros(shape)
        self._cur_steps = 0
        self._cur_count = 0

    def add(self, log_r, steps):
        """Add one QR's log R_ii (*batch, k) covering ``steps`` time steps; returns True
        when this completed a block."""
        self._cur += log_r
        self._cur_steps += steps
        self._cur_count += 1
        if self._cur_count < self.block_qrs:
            return False
        self._sums.append(self._cur)
        self._steps.append(self._cur_steps)
        self._cur = np.zeros_like(self._cur)
        self._cur_steps = self._cur_count = 0
        if len(self._sums) == 2 * MAX_BLOCKS:
            self._sums = [a + b for a, b in zip(self._sums[::2], self._sums[1::2])]
            self._steps = [a + b for a, b in zip(self._steps[::2], self._steps[1::2])]
            self.block_qrs *= 2
        return True

    @property
    def n_blocks(self):
        return len(self._sums)

    @property
    def block_steps(self):
        """Time steps per complete block (the last block may differ by a few steps at the
        end of the schedule); 0 before the first block."""
        return int(np.median(self._steps)) if self._steps else 0

    def block_estimates(self):
        """lambda of each complete block: (n_blocks, *batch, k)."""
        steps = np.array(self._steps, dtype=float).reshape((-1,) + (1,) * self._cur.ndim)
        return np.array(self._sums) / steps

    def stderr(self):
        """Standard error of lambda, (*batch, k): std of the block estimates / sqrt(n);
        NaN with fewer than MIN_BLOCKS blocks."""
        if self.n_blocks < MIN_BLOCKS:
            return np.full(self._cur.shape, np.nan)
        lam = self.block_estimates()
        return np.std(lam, axis=0, ddof=1) / math.sqrt(self.n_blocks)

    def lag1_autocorrelation(self):
        """Lag-1 autocorrelation of consecutive block estimates, pooled over all
        trajectories and exponents (NaN with fewer than MIN_BLOCKS blocks)."""
        if self.n_blocks < MIN_BLOCKS:
            return math.nan
        dev = self.block_estimates()
        dev = dev - dev.mean(axis=0)
        var = np.sum(dev * dev)
        if var == 0.0:
            return 0.0
        return float(np.sum(dev[1:] * dev[:-1]) / var)

    def check_independence(self, stacklevel=3):
        """Warn (:class:`ShortBlocksWarning`) if consecutive blocks are correlated (unless
        the block estimates agree to round-off, as for a linear map)."""
        r1, n = self.lag1_autocorrelation(), self.n_blocks
        negligible = n >= MIN_BLOCKS and float(np.max(np.ptp(self.block_estimates(), axis=0))) < ROUND_OFF_SPREAD
        if math.isfinite(r1) and r1 > max(AUTOCORR_FLOOR, 3.0 / math.sqrt(n)) and not negligible:
            warnings.warn(f"consecutive blocks of {self.block_steps} steps have lag-1 autocorrelation "
                          f"{r1:.2f} ({n} blocks): the blocks are too short to be independent and the "
                          "standard errors are too small; run a longer trajectory", ShortBlocksWarning,
                          stacklevel=stacklevel)
        return r1


def confidence_halfwidth(stderr, n_blocks, level=0.95):
    """Half-width of the ``level`` confidence interval of lambda from its batch-means
    standard error: Student's t quantile with n_blocks - 1 degrees of freedom times the
    standard error."""
    level = _validate.real("level", level, minimum=0.0, maximum=1.0, strict_min=True)
    if n_blocks < 2:
        return np.full(np.shape(stderr), np.nan)
    return stats.t.ppf(0.5 + level / 2.0, n_blocks - 1) * np.asarray(stderr)


def ensemble_mean(exponents, axis=0):
    """Mean and standard error of exponents measured on independent trajectories or
    networks (the std over ``axis`` / sqrt(count)).

    exponents : (..., k) array_like
    returns mean, stderr : arrays without ``axis``
    """
    lam = _validate.float_array("exponents", exponents, min_ndim=1)
    n = lam.shape[axis]
    if n < 2:
        raise ValueError(f"a standard error across runs needs at least 2 of them along axis {axis}, got {n}")
    return lam.mean(axis=axis), lam.std(axis=axis, ddof=1) / math.sqrt(n)


def kaplan_yorke_dimension(exponents):
    """Kaplan-Yorke (Lyapunov) dimension of a spectrum.

        D_KY = j + (lambda_1 + ... + lambda_j) / |lambda_{j+1}|

    with j the largest index for which lambda_1 + ... + lambda_j >= 0 (0 if lambda_1 < 0).

    exponents : (..., k) array_like, each row sorted in decreasing order

    Raises
    ------
    ValueError
        The exponents are not in decreasing order, or the sum of all k is still
        non-negative (then D_KY >= k: compute more exponents).

    Examples
    --------
    >>> kaplan_yorke_dimension([0.42, -1.62])       # the Henon map: 1 + 0.42/1.62
    1.259...
    """
    lam = _validate.float_array("exponents", exponents, min_ndim=1)
    _nonempty(lam)
    with np.errstate(over="ignore"):        # differences and sums beyond 1.8e308 are refused below
        increasing = np.diff(lam, axis=-1) > 0
        partial = np.cumsum(lam, axis=-1)
    if np.any(increasing):
        raise ValueError("exponents must be sorted in decreasing order along the last axis")
    _summable(partial)
    if np.any(partial[..., -1] >= 0):
        raise ValueError(f"the sum of all {lam.shape[-1]} exponents is non-negative, so D_KY >= "
                         f"{lam.shape[-1]}: compute more exponents (a larger k)")
    j = np.sum(partial >= 0, axis=-1)                       # leading non-negative partial sums
    top = np.take_along_axis(np.concatenate([np.zeros(lam.shape[:-1] + (1,)), partial], axis=-1),
                             j[..., None], axis=-1)[..., 0]
    nxt = np.take_along_axis(lam, j[..., None], axis=-1)[..., 0]
    out = j + top / np.abs(nxt)
    return float(out) if out.ndim == 0 else out


def entropy_bound(exponents):
    """Sum of the positive exponents (..., k) -> (...): by Ruelle's inequality, an upper
    bound on the Kolmogorov-Sinai entropy rate (nats per step).  Pesin's formula, the
    equality, holds for SRB measures.  With only k exponents computed, the sum is the
    bound only if lambda_k < 0."""
    lam = _validate.float_array("exponents", exponents, min_ndim=1)
    _nonempty(lam)
    with np.errstate(over="ignore"):
        out = np.sum(np.maximum(lam, 0.0), axis=-1)
    _summable(out)
    return float(out) if out.ndim == 0 else out


def _summable(sums):
    """Refuse exponents whose sums overflow float64: no spectrum of a float64 computation has
    them (each log R_ii lies between about -745 and 710)."""
    if not np.all(np.isfinite(sums)):
        raise ValueError("exponents sum beyond the float64 range (about 1.8e308 in magnitude); exponents are growth "
                         "rates per step, of order 1")


def _nonempty(lam):
    """Refuse a spectrum of no exponents (k = 0 along the last axis)."""
    if lam.shape[-1] == 0:
        raise ValueError(f"exponents must hold at least one exponent along the last axis (k >= 1), "
                         f"got shape {lam.shape}")
