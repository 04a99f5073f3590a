"""Arbitrary precision: the long-term Jacobian's condition number (Eq. 10, Fig. 2) and an
mpmath reference of the flossing loss for high-precision gradient checks.

:mod:`~floss_ref.core.precision.condition`
    singular values and kappa_2 of ``T_t(h_tau) Q_tau`` at 256 bits, Eq. 10, the
    precision budget.
:mod:`~floss_ref.core.precision.blockfloat`
    the exact block-floating-point matrix products that make that fast.
:mod:`~floss_ref.core.precision.reference`
    the vanilla-RNN flossing loss re-implemented in mpmath, and central differences of
    it at raised precision.
"""

from floss_ref.core.precision.condition import (ProductSVD, bits_needed, eq10_log_kappa, guard_bits, long_term_jacobian_svd,
                        product_svd, required_prec, resolvable_horizon, trajectory_jacobians)

__all__ = ["ProductSVD", "bits_needed", "eq10_log_kappa", "guard_bits", "long_term_jacobian_svd",
           "product_svd", "required_prec", "resolvable_horizon", "trajectory_jacobians"]
