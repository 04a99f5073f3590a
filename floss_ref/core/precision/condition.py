"""Condition number of the long-term Jacobian in arbitrary precision (Eq. 10, Fig. 2).

    T_t(h_tau) Q_tau = D_{t-1} ... D_tau Q_tau                      Q_tau : (n, m) orthonormal
    kappa_2(T_t Q_tau) = sigma_1 / sigma_m ~ exp((lambda_1 - lambda_m)(t - tau))      (Eq. 10)

The product is formed directly, with no re-orthonormalisation, so it is an independent
check of the QR (Benettin) estimate: its condition number grows like exp((lambda_1 -
lambda_m) t), beyond float64 after a few dozen steps, and its singular values are wanted
to many digits.  This module

1. takes the float64 Jacobians ``D_s`` of a trajectory of any map (``system.tangent``
   applied to the identity, :func:`trajectory_jacobians`), each an exact binary number;
2. multiplies them onto Q_tau keeping ``prec`` bits (default 256) with the exact
   block-floating-point products of :mod:`floss_ref.core.precision.blockfloat`: every step
   is computed exactly and then rounded once, so the only error is that rounding, and
   the product is exact with respect to the float64 Jacobians up to it;
3. hands the product, at each requested horizon t - tau, to mpmath (gmpy2 backend),
   which computes its singular values at ``prec`` bits: for m < n a modified
   Gram-Schmidt QR of the n x m product (:func:`mgs_r`), then ``svd_r`` of the m x m
   factor R; for m = n ``svd_r`` of the product;
4. alongside, runs the float64 QR algorithm on the same Jacobians from the same Q_tau,
   which gives the QR exponents and the finite-time form of Eq. 10 used for the
   precision budget.

Precision budget
----------------
Rounding each step's product to ``prec`` bits relative to its largest entry perturbs
T_t Q_tau by at most about ``(t - tau) sqrt(n m) 2^-prec sigma_1`` (each rounding error is
carried forward by the remaining Jacobians, which stretch it by no more than they stretch
the product; a growth factor for the difference is allowed below).  By Weyl's inequality
sigma_m then has relative error about ``kappa_2 (t - tau) sqrt(n m) 2^-prec``, so ``digits``
correct digits of sigma_m need ::

    bits = log2 kappa_2 + digits log2(10) + guard,   guard = log2((t - tau) sqrt(n m)) + 16

The 16 bits cover the growth factor and the gap between the predicted and the actual
kappa_2 (measured by ``validation/bench/bench_precision.py``).  kappa_2 is predicted before
the expensive product from the float64 QR pass: with ``D_{s} Q_s = Q_{s+1} R_{s+1}``,
``T_t Q_tau = Q_t (R_t ... R_{tau+1})``, and the diagonal of that triangular product is
``prod_s R^s_ii``, so ::

    log kappa_2 >= max_i sum_s log R^s_ii - min_i sum_s log R^s_ii
                 = (lambda_1(t) - lambda_m(t)) (t - tau)

with finite-time QR exponents lambda_i(t): Eq. 10 on this very trajectory, and a lower
bound.  A request needing more than ``prec`` bits is refused with a ValueError naming the
bits it needs, before any arbitrary-precision work, or with ``auto_prec=True`` the
precision is raised to that.  The measured kappa_2 lies above this bound by a prefactor
(4 to 9 bits for N = 80 and m = 15 to 80), which the 16 margin bits absorb.  After the
computation the formula is applied to the measured kappa_2 (``digits_estimate``, a
conservative bound: the errors add up more like a random walk than in the worst
direction), and ``check=True`` recomputes everything at ``2 prec`` bits and reports how
many digits of each sigma_i agree.
"""

import dataclasses
import math

import mpmath
import numpy as np

from floss_ref import _validate
from floss_ref._threads import limit_blas
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.lyapunov import (ORTHONORMAL_ATOL, benettin, check_state, check_trajectory, qr_schedule,
                                     random_orthonormal)
from floss_ref.core.precision import blockfloat

GROWTH_MARGIN_BITS = 16
MIN_PREC = 53
BITS_PER_DIGIT = math.log2(10.0)
# digits of sigma_m a budget may ask for (float64 holds 16; 10^6 digits are 3.3 million bits),
# and the most bits it may come to (far beyond any mpmath run; int64 holds the answer)
MAX_DIGITS = 1e6
MAX_BITS = 2.0 ** 53
# the longest horizon t - tau resolvable_horizon reports (float64, in which it is evaluated, ends at 2^1024)
MAX_HORIZON = 2 ** 1000


@dataclasses.dataclass
class ProductSVD:
    """Singular values of ``T_t(h_tau) Q_tau`` at a list of horizons (:func:`product_svd`).

    Attributes
    ----------
    horizons : (H,) ndarray of int
        t - tau, increasing.
    sigma : list of H lists of m mpmath.mpf
        sigma_1 >= ... >= sigma_m at ``prec`` bits.
    log_sigma : (H, m) ndarray
        Natural logs of ``sigma`` (the singular values themselves leave the float64 range).
    log_kappa : (H,) ndarray
        log kappa_2 = log sigma_1 - log sigma_m.
    exponents : (H, m) ndarray
        Finite-time exponents of the product, log sigma_i / (t - tau).
    qr_exponents : (H, m) ndarray
        Finite-time QR exponents on the same Jacobians from the same Q_tau,
        (1 / (t - tau)) sum_s log R^s_ii.
    log_kappa_qr : (H,) ndarray
        Finite-time Eq. 10 from the QR pass, a lower bound of log kappa_2.
    prec : int
        Bits used (raised above the requested precision if ``auto_prec``).
    bits_needed : (H,) ndarray of int
        Bits the budget formula asks for at each horizon with the measured kappa_2
        (the request itself was admitted on the QR prediction).
    digits_estimate : (H,) ndarray
        Digits of sigma_m the budget formula guarantees at ``prec`` bits with the measured
        kappa_2.
    agreeing_digits : (H, m) ndarray or None
        Digits of each sigma_i that agree with a recomputation at ``2 prec`` bits
        (``check=True``), capped at the digits of ``prec`` bits.
    jacobians_exact : bool
        Whether every float64 Jacobian entered the product exactly.
    """

    horizons: np.ndarray
    sigma: list
    log_sigma: np.ndarray
    log_kappa: np.ndarray
    exponents: np.ndarray
    qr_exponents: np.ndarray
    log_kappa_qr: np.ndarray
    prec: int
    bits_needed: np.ndarray
    digits_estimate: np.ndarray
    agreeing_digits: np.ndarray
    jacobians_exact: bool


def eq10_log_kappa(exponents, m, horizons):
    """Eq. 10: log kappa_2(T_t Q_tau) ~ (lambda_1 - lambda_m)(t - tau).

    exponents : (..., k) array_like, lambda_1 >= lambda_2 >= ..., k >= m
    m : int
    horizons : (H,) array_like, t - tau
    returns : (..., H) ndarray
    """
    exponents = _validate.float_array("exponents", exponents, min_ndim=1)
    if exponents.shape[-1] == 0:
        raise ValueError(f"exponents must hold at least one exponent along the last axis, got shape {exponents.shape}")
    m = _validate.integer("m", m, minimum=1, maximum=exponents.shape[-1])
    horizons = _validate.float_array("horizons", horizons, min_ndim=1)
    if np.any(horizons < 0):
        raise ValueError(f"horizons (t - tau) must be >= 0 steps, got {np.min(horizons):g}")
    with np.errstate(over="ignore", invalid="ignore"):
        log_kappa = (exponents[..., 0] - exponents[..., m - 1])[..., None] * horizons
    if not np.all(np.isfinite(log_kappa)):
        raise ValueError("exponents and horizons give log kappa_2 = (lambda_1 - lambda_m)(t - tau) beyond the float64 "
                         "range; exponents are rates per step of order 1, horizons numbers of steps")
    return log_kappa


def guard_bits(horizon, n, m):
    """Bits kept beyond log2 kappa_2 and the digits asked for: log2(h sqrt(n m)) + 16.

    horizon : (H,) array_like or int, t - tau
    returns : same shape, float
    """
    horizon, n, m = _sizes(horizon, n, m)
    return np.log2(horizon) + math.log2(n * m) / 2 + GROWTH_MARGIN_BITS     # log2(h sqrt(n m)), without overflow


def _sizes(horizon, n, m):
    """Checked horizon(s) t - tau >= 1 (float64 array) and sizes 1 <= m <= n."""
    horizon = _validate.float_array("horizon", horizon)
    if np.any(horizon < 1):
        raise ValueError(f"horizon (t - tau) must be >= 1 step, got {np.min(horizon):g}")
    n = _validate.integer("n", n, minimum=1)
    m = _validate.integer("m", m, minimum=1)
    if m > n:
        raise ValueError(f"m = {m} columns exceed the state size n = {n}: Q_tau is n x m with m <= n")
    return horizon, n, m


def bits_needed(log_kappa, horizon, n, m, digits):
    """Bits of precision for ``digits`` correct digits of sigma_m (module docstring).

    log_kappa : (H,) array_like, natural log of kappa_2
    horizon : (H,) array_like, t - tau
    returns : (H,) ndarray of int
    """
    log_kappa = _validate.float_array("log_kappa", log_kappa)
    if np.any(log_kappa < 0):
        raise ValueError(f"log_kappa must be >= 0 (kappa_2 >= 1), got {np.min(log_kappa):g}")
    digits = _validate.real("digits", digits, minimum=0.0, maximum=MAX_DIGITS)
    horizon, n, m = _sizes(horizon, n, m)
    try:
        np.broadcast_shapes(log_kappa.shape, horizon.shape)
    except ValueError:
        raise ValueError(f"log_kappa and horizon must have one entry per horizon (or broadcast), got shapes "
                         f"{log_kappa.shape} and {horizon.shape}") from None
    bits = _bits(log_kappa, horizon, n, m, digits)
    if np.any(bits > MAX_BITS):  # would not even be an integer of int64 (and no mpmath run reaches it)
        raise ValueError(f"log_kappa up to {np.max(log_kappa):.3g} with digits = {digits:g} would need "
                         f"{np.max(bits):.3g} bits, more than the {MAX_BITS:.3g} this budget handles; "
                         "give a smaller log_kappa (shorter horizons) or fewer digits")
    return np.ceil(bits).astype(np.int64)


def _bits(log_kappa, horizon, n, m, digits):
    """The bits of :func:`bits_needed`, on checked arguments (float64; inf if beyond its range)."""
    with np.errstate(over="ignore"):
        return log_kappa / math.log(2.0) + digits * BITS_PER_DIGIT + guard_bits(horizon, n, m)


def resolvable_horizon(delta_lambda, n, m, prec=256, digits=10):
    """Longest horizon t - tau at which ``prec`` bits give ``digits`` digits of sigma_m,
    when kappa_2 grows like exp(delta_lambda (t - tau)) (Eq. 10, delta_lambda = lambda_1 -
    lambda_m > 0).  Returns 0 if not even one step fits.
    """
    delta_lambda = _validate.real("delta_lambda", delta_lambda, minimum=0.0, strict_min=True)
    prec = _validate.integer("prec", prec, minimum=MIN_PREC)
    _, n, m = _sizes(1, n, m)
    digits = _validate.real("digits", digits, minimum=0.0, maximum=MAX_DIGITS)

    def fits(h):  # h as a float: beyond int64 (tiny delta_lambda) it still converts to float64
        return _bits(delta_lambda * h, float(h), n, m, digits) <= prec

    lo, hi = 0, 1
    while fits(hi):
        if hi > MAX_HORIZON:
            raise ValueError(f"delta_lambda = {delta_lambda:g} is so small that prec = {prec} bits resolve horizons "
                             f"beyond {MAX_HORIZON:.3g} steps; give a larger delta_lambda or a smaller prec")
        lo, hi = hi, 2 * hi
    while hi - lo > 1:  # fits(lo), not fits(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def trajectory_jacobians(system, h0, xs=None, *, T=None):
    """The float64 one-step Jacobians D_s = dh_{s+1}/dh_s along one trajectory.

    ``D_s = system.tangent(cache_s, I)``: for the vanilla RNN that is W diag(phi'(h_s)),
    each entry one float64 product, rounded once.

    Parameters
    ----------
    system : map (floss_ref.core.maps protocol), one network
    h0 : (n,) array_like, h_tau
    xs : (T, n_in) array_like or None
    T : int, needed when xs is None

    Returns
    -------
    Ds : (T, n, n) ndarray
    """
    n, h, xs, T = single_trajectory_arguments(system, h0, xs, T)
    _validate.memory(f"the Jacobians of T = {T} steps (n = {n})", 8 * T * n * n,
                     "use a shorter trajectory T (only max(horizons) steps are needed)")
    identity = np.eye(n)
    Ds = np.empty((T, n, n))
    for s in range(T):
        h_next, cache = system.step(h, None if xs is None else xs[s])
        if h_next.shape != (n,):
            raise ValueError(f"the system returned states of shape {h_next.shape} from h0 of shape "
                             f"({n},): give a single network and a single trajectory")
        check_state(h_next, s)
        Ds[s] = system.tangent(cache, identity)
        h = h_next
    return Ds


def single_trajectory_arguments(system, h0, xs, T):
    """The checks of :func:`floss_ref.core.lyapunov.check_trajectory`, for one trajectory:
    ``h0 : (n,)``, ``xs : (T, n_in)`` or None.  Returns ``(n, h0, xs, T)``."""
    n, h0, xs, T = check_trajectory(system, h0, xs, T)
    if h0.ndim != 1:
        raise ValueError(f"h0 must be one state of shape (n,) = ({n},), got {h0.shape}")
    if xs is not None and xs.ndim != 2:
        raise ValueError(f"xs must have shape (T, n_in) for one trajectory, got {xs.shape}")
    return n, h0, xs, T


def long_term_jacobian_svd(system, h0, xs=None, *, m, horizons, T=None, Q0=None, seed=None,
                           prec=256, digits=10, auto_prec=False, check=False, blas_threads=1):
    """Singular values and kappa_2 of T_t(h_tau) Q_tau at 256 bits, for a trajectory of a map.

    The trajectory starts at h_tau = ``h0`` and step s is driven by ``xs[s]``; the
    Jacobians of its first ``max(horizons)`` steps are multiplied onto Q_tau.  See
    :func:`product_svd` for the computation and the precision budget.

    Parameters
    ----------
    system : map (floss_ref.core.maps protocol), one network (no ensemble axes)
    h0 : (n,) array_like
    xs : (T, n_in) array_like or None
        At least ``max(horizons)`` steps of input; None for an autonomous map.
    m : int
        Columns of Q_tau, 1 <= m <= n.
    horizons : sequence of int
        t - tau, each between 1 and T.
    T : int, optional
        Number of steps when xs is None.
    Q0 : (n, m) array_like, optional
        Q_tau with orthonormal columns; random (Haar, from ``seed``) if not given.
    seed : int, numpy.random.Generator or None
    prec, digits, auto_prec, check, blas_threads
        As in :func:`product_svd`.

    Returns
    -------
    ProductSVD

    Examples
    --------
    >>> import numpy as np
    >>> from floss_ref import VanillaRNN
    >>> from floss_ref.core.precision import long_term_jacobian_svd
    >>> net = VanillaRNN.random(20, g=1.0, seed=0)
    >>> xs = np.random.default_rng(1).integers(0, 2, (200, 1)).astype(float)
    >>> res = long_term_jacobian_svd(net, np.zeros(20), xs, m=5, horizons=[50, 100, 200], seed=2,
    ...                              check=True)
    >>> np.round(res.log_kappa / np.log(10), 1)   # log10 kappa_2
    array([ 3.7,  6.5, 11.9])
    >>> bool(np.all(res.agreeing_digits[:, -1] > 60))   # sigma_5 at 256 vs 512 bits
    True
    """
    n = getattr(system, "state_size", None)
    m = _validate.integer("m", m, minimum=1)
    auto_prec = _validate.flag("auto_prec", auto_prec)     # before the trajectory is computed
    check = _validate.flag("check", check)
    if n is not None and m > n:
        raise ValueError(f"m = {m} columns exceed the state size n = {n}: Q_tau is n x m with m <= n")
    n, h0, xs, T = single_trajectory_arguments(system, h0, xs, T)
    horizons = _horizons(horizons, T)
    Q0 = _start_block(Q0, n, m, seed)
    t_max = int(horizons[-1])
    Ds = trajectory_jacobians(system, h0, None if xs is None else xs[:t_max], T=t_max)
    return product_svd(Ds, Q0, horizons, prec=prec, digits=digits, auto_prec=auto_prec,
                       check=check, blas_threads=blas_threads)


def _horizons(horizons, T):
    if isinstance(horizons, (int, np.integer)):
        horizons = [horizons]
    try:
        h = np.asarray(horizons)
    except ValueError:   # a ragged nested sequence
        raise ValueError(f"horizons must be a non-empty sequence of integers t - tau, got {horizons!r}") from None
    if h.ndim != 1 or h.size == 0 or not np.issubdtype(h.dtype, np.integer):
        raise ValueError(f"horizons must be a non-empty sequence of integers t - tau, got {horizons!r}")
    h = np.unique(h)
    if h[0] < 1:
        raise ValueError(f"horizons must be >= 1 step, got {int(h[0])}")
    if h[-1] > T:
        raise ValueError(f"horizon {int(h[-1])} lies beyond the trajectory of T = {T} steps; "
                         f"give horizons <= {T} or a longer trajectory")
    return h


def _start_block(Q0, n, m, seed):
    if Q0 is None:
        return random_orthonormal(n, m, (), seed)
    Q0 = _validate.float_array("Q0", Q0, min_ndim=2)
    if Q0.shape != (n, m):
        raise ValueError(f"Q0 must have shape (n, m) = ({n}, {m}), got {Q0.shape}")
    if not np.allclose(Q0.T @ Q0, np.eye(m), atol=ORTHONORMAL_ATOL):
        raise ValueError("Q0 must have orthonormal columns (Q0^T Q0 = I)")
    return Q0


def product_svd(Ds, Q0, horizons, *, prec=256, digits=10, auto_prec=False, check=False,
                blas_threads=1):
    """Singular values of ``D_{t-1} ... D_0 Q0`` at each horizon t, in ``prec``-bit arithmetic.

    The recurrence, in plain Python (``fl`` rounds to ``prec`` bits)::

        P = Q0                                     # exact
        for s in range(max(horizons)):
            P = fl(Ds[s] @ P)                      # exact product, one rounding
            if s + 1 in horizons:
                sigma[s + 1] = svd_r(mgs_r(P))     # mpmath, prec bits (m < n)

    and alongside, in float64, ``Q R = qr(Ds[s] @ Q)``, ``gamma += log diag R``.

    Parameters
    ----------
    Ds : (T, n, n) array_like
        Float64 Jacobians D_tau, D_tau+1, ... (see :func:`trajectory_jacobians`).
    Q0 : (n, m) array_like
        Q_tau, orthonormal columns (used as given: its float64 entries exactly).
    horizons : sequence of int
        t - tau, 1 <= t - tau <= T.
    prec : int
        Bits of precision, >= 53 (default 256, as in the paper).
    digits : float
        Correct digits of sigma_m the precision budget must leave (module docstring).
    auto_prec : bool
        Raise ``prec`` to what the budget needs instead of refusing.
    check : bool
        Recompute at ``2 prec`` bits and fill ``agreeing_digits``.
    blas_threads : int or None
        BLAS threads for the limb products (default 1).

    Returns
    -------
    ProductSVD

    Raises
    ------
    ValueError
        Bad shapes or horizons, ``prec < 53``, or a request needing more than ``prec``
        bits (the message gives the number) without ``auto_prec``.
    NumericalBreakdownError
        A Jacobian or the product is exactly zero, or the QR pass finds R_jj = 0.
    """
    Ds, Q0, horizons = _product_arguments(Ds, Q0, horizons)
    n, m = Q0.shape
    prec = _validate.integer("prec", prec, minimum=MIN_PREC)
    digits = _validate.real("digits", digits, minimum=0.0)
    auto_prec = _validate.flag("auto_prec", auto_prec)
    check = _validate.flag("check", check)
    with limit_blas(blas_threads):
        log_r = _qr_pass(Ds, Q0, horizons)
        log_kappa_qr = np.ptp(log_r, axis=1)
        prec = _afford(bits_needed(log_kappa_qr, horizons, n, m, digits), horizons, prec, auto_prec, digits)
        sigma, exact = _singular_values(Ds, Q0, horizons, prec)
        log_sigma = _logs(sigma, prec)
        log_kappa = log_sigma[:, 0] - log_sigma[:, -1]
        agreeing = None
        if check:
            sigma2, _ = _singular_values(Ds, Q0, horizons, 2 * prec)
            agreeing = _agreeing_digits(sigma, sigma2, prec)
    digits_estimate = (prec - log_kappa / math.log(2.0) - guard_bits(horizons, n, m)) / BITS_PER_DIGIT
    return ProductSVD(
        horizons=horizons, sigma=sigma, log_sigma=log_sigma, log_kappa=log_kappa,
        exponents=log_sigma / horizons[:, None], qr_exponents=log_r / horizons[:, None],
        log_kappa_qr=log_kappa_qr, prec=prec, bits_needed=bits_needed(log_kappa, horizons, n, m, digits),
        digits_estimate=digits_estimate, agreeing_digits=agreeing, jacobians_exact=exact)


def required_prec(Ds, Q0, horizons, *, digits=10, blas_threads=1):
    """Bits :func:`product_svd` needs at each horizon for ``digits`` digits of sigma_m,
    predicted from the float64 QR pass alone (finite-time Eq. 10, module docstring).

    Ds : (T, n, n) array_like
    Q0 : (n, m) array_like
    horizons : sequence of int
    returns : (H,) ndarray of int, for the sorted unique horizons
    """
    Ds, Q0, horizons = _product_arguments(Ds, Q0, horizons)
    digits = _validate.real("digits", digits, minimum=0.0)
    with limit_blas(blas_threads):
        log_r = _qr_pass(Ds, Q0, horizons)
    return bits_needed(np.ptp(log_r, axis=1), horizons, *Q0.shape, digits)


def _product_arguments(Ds, Q0, horizons):
    Ds = _validate.float_array("Ds", Ds, min_ndim=3)
    if Ds.ndim != 3 or Ds.shape[1] != Ds.shape[2]:
        raise ValueError(f"Ds must have shape (T, n, n), got {Ds.shape}")
    T, n, _ = Ds.shape
    Q0 = _validate.float_array("Q0", Q0, min_ndim=2)
    if Q0.ndim != 2 or Q0.shape[0] != n:
        raise ValueError(f"Q0 must have shape (n, m) with n = {n}, got {Q0.shape}")
    if Q0.shape[1] > n:
        raise ValueError(f"m = {Q0.shape[1]} columns exceed the state size n = {n}: "
                         "Q_tau is n x m with m <= n")
    if not np.allclose(Q0.T @ Q0, np.eye(Q0.shape[1]), atol=ORTHONORMAL_ATOL):
        raise ValueError("Q0 must have orthonormal columns (Q0^T Q0 = I)")
    return Ds, Q0, _horizons(horizons, T)


def _afford(needed, horizons, prec, auto_prec, digits):
    """The precision to use: ``prec`` if it covers ``needed``, else raised or refused."""
    worst = int(np.max(needed))
    if worst <= prec:
        return prec
    if auto_prec:
        return -(-worst // 32) * 32
    ok = horizons[needed <= prec]
    reach = f"the longest horizon {prec} bits resolve is {int(ok[-1])}" if ok.size else \
        f"{prec} bits resolve none of the horizons"
    raise ValueError(
        f"kappa_2 predicted by Eq. 10 (float64 QR pass) needs {worst} bits of precision at horizon "
        f"{int(horizons[np.argmax(needed)])} for digits = {digits:g} ({reach}); pass prec={worst}, auto_prec=True, "
        "fewer digits, shorter horizons or fewer columns m")


class _StoredJacobians:
    """A map whose tangent step s applies the stored Jacobian D_s, fed to the Benettin
    loop as the input of step s; its state (one unused entry) never changes."""

    state_size = 1

    @staticmethod
    def step(h, D):
        return h, D

    @staticmethod
    def tangent(D, Q):
        return D @ Q


def _qr_pass(Ds, Q0, horizons):
    """Cumulative float64 log R_ii along the Jacobians (the Benettin loop of
    :func:`floss_ref.core.lyapunov.benettin`, a QR after every step): (H, m), one row per horizon."""
    T = int(horizons[-1])
    run = benettin(_StoredJacobians(), np.zeros(1), Ds[:T], T, Q0, transient=0, schedule=qr_schedule(T, 1, 0),
                   history=True)
    return run.gamma_history[np.asarray(horizons, dtype=int) - 1]


def _singular_values(Ds, Q0, horizons, prec):
    """sigma_1..sigma_m of the product at each horizon, as lists of mpf at ``prec`` bits."""
    n = Ds.shape[1]
    L = blockfloat.limb_bits_for(n)
    K = blockfloat.limbs_for(prec, L)
    ctx = mpmath.MPContext()
    ctx.prec = prec
    P = blockfloat.from_float(Q0, L, K)
    exact = P.exact
    wanted = set(int(h) for h in horizons)
    sigma = []
    for s in range(int(horizons[-1])):
        D = blockfloat.from_float(Ds[s], L, K)
        exact = exact and D.exact
        P = blockfloat.matmul(D, P, K)
        if s + 1 in wanted:
            columns = blockfloat.to_mpmath_columns(P, ctx)
            if len(columns) < n:  # reduce to the m x m factor first
                A = mgs_r(columns, ctx)
            else:
                A = ctx.matrix([list(row) for row in zip(*columns)])
            sv = ctx.svd_r(A, compute_uv=False, overwrite_a=True)
            sigma.append([sv[i] for i in range(len(sv))])
    return sigma, exact


def mgs_r(columns, ctx):
    """The triangular factor R of a thin QR of an n x m matrix, by modified Gram-Schmidt in mpmath.

    Its singular values are those of the matrix to the working precision: the R of MGS
    is backward stable, ``A + E = Q R`` with Q exactly orthonormal and
    ``||E|| = O(n m 2^-prec ||A||)`` (Bjorck and Paige, SIAM J. Matrix Anal. Appl. 13,
    176 (1992)), even though the computed Q loses orthogonality.  MGS and an ``svd_r``
    of the m x m R cost less than ``svd_r`` of the n x m matrix when m < n (at 256 bits
    and n = 80: 0.04 s instead of 0.10 s for m = 15, about equal at m = 60); for a
    square product ``svd_r`` is applied directly.

    columns : list of m lists of n mpf (the matrix A by columns)
    ctx : mpmath context
    returns R : (m, m) ctx.matrix, upper triangular, diag(R) >= 0
    """
    m = len(columns)
    R = ctx.matrix(m, m)
    Q = []
    for j, v in enumerate(columns):
        for i, q in enumerate(Q):
            r = ctx.fdot(q, v)
            R[i, j] = r
            v = [a - r * b for a, b in zip(v, q)]
        norm = ctx.sqrt(ctx.fdot(v, v))
        R[j, j] = norm
        if norm == 0:
            raise NumericalBreakdownError(
                f"column {j + 1} of the product lies in the span of the previous ones at "
                f"{ctx.prec} bits (sigma_m = 0)")
        Q.append([a / norm for a in v])
    return R


def _logs(sigma, prec):
    ctx = mpmath.MPContext()
    ctx.prec = prec
    if any(row[-1] <= 0 for row in sigma):
        raise NumericalBreakdownError(
            f"sigma_m = 0 at {prec} bits: the columns of the product became linearly dependent")
    return np.array([[float(ctx.log(sv)) for sv in row] for row in sigma])


def _agreeing_digits(sigma, sigma2, prec):
    """-log10 |sigma - sigma2| / sigma2 for each singular value, capped at prec log10(2)."""
    ctx = mpmath.MPContext()
    ctx.prec = 2 * prec
    cap = prec / BITS_PER_DIGIT
    out = np.empty((len(sigma), len(sigma[0])))
    for h, (row, row2) in enumerate(zip(sigma, sigma2)):
        for i, (a, b) in enumerate(zip(row, row2)):
            diff = abs(ctx.mpf(a) - b)
            out[h, i] = cap if diff == 0 else min(cap, float(-ctx.log10(diff / b)))
    return out
