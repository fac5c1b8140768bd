"""Data: feature specs, datasets that carry them, and the readers that make them.

The spec (:mod:`~sensecf.data.spec`), constraints and feature scales; the :class:`Dataset`
(:mod:`~sensecf.data.dataset`); readers for tables, the UCI heart file and AI-READI files, with
:func:`~sensecf.data.loaders.load_dataset` choosing among them; the synthetic cohort.
"""
