"""The checking kit for an implementation of your own: :mod:`~floss_ref.kit.gradcheck`
(your gradient against floss_ref's, or against central differences in float64 or mpmath)
and :mod:`~floss_ref.kit.vectors` (reference vectors as JSON, made and checked).
"""
