"""lotsbook: what only the book needs -- the chapter context, the profiles, figures and tables,
the generated sentences of each chapter, and the builder (``python -m lotsbook``).

The method itself (LOTS, the maps, the CAMs, the metrics, the sanity checks, the benchmark
runner and its stores) is :mod:`lotslib`, which imports nothing from this package.
"""
