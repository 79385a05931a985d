"""Layer 0, *base*: utilities every layer may use, depending on nothing of the project but errors.

* :mod:`~qama_compile.base.optional` - lazy imports of optional dependencies with install hints;
* :mod:`~qama_compile.base.atomic` - atomic file writes;
* :mod:`~qama_compile.base.jsonutil` - strict JSON of numpy values.
"""
