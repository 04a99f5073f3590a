"""The run machinery: a training run that checkpoints and resumes bit for bit
(:mod:`~floss_ref.runs.run`), checkpoint files, resumable sweeps on local processes or a
Dask cluster, and atomic file I/O.

Imports from :mod:`floss_ref.core` and :mod:`floss_ref.experiments`; neither imports from it.
"""
