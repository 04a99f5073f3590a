"""The paper's training experiments: the tasks (App. H), the BPTT model and its losses,
Adam, the flossing loop (:func:`~floss_ref.experiments.driver.floss`), the training
configuration with its protocols (Secs. 6-7, App. C-D), and the Sec. 7 controls.

Imports from :mod:`floss_ref.core` only.
"""
