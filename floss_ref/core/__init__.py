"""The reference a reader studies: maps and cells (Eq. 9, App. B), the QR decomposition
and its derivatives (Eqs. 6-8), the Benettin loop (Algorithm 2) and its adjoint
(Algorithm 1), the flossing loss (Eqs. 4-5), error bars, covariant vectors, and the
arbitrary-precision checks (Eq. 10).

Nothing here imports from :mod:`floss_ref.experiments`, :mod:`floss_ref.runs`,
:mod:`floss_ref.kit` or :mod:`floss_ref.cli`: these files can be read alone.
"""
