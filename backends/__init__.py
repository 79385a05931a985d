"""Interchangeable samplers for qama-compile; every backend is a ``dimod.Sampler``.

Imported as ``qama_backends`` (this directory is mapped to that package name) and found by
:func:`qama_compile.get_backend` through the ``qama_compile.backends`` entry-point group.
"""
