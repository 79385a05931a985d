"""Layer 6, *runtime*: running problems on backends.

* :mod:`~qama_compile.runtime.registry` - backend names -> sampler classes (entry points);
* :mod:`~qama_compile.runtime.sampling` - :func:`sample_batch`, the one sampling path, and the
  optional :class:`BatchSampler` protocol;
* :mod:`~qama_compile.runtime.solve` - :func:`solve`: compile (optionally), sample, decode;
* :mod:`~qama_compile.runtime.decompose` - block-coordinate descent for plans;
* :mod:`~qama_compile.runtime.executor` - one executor (here or on Dask), one retry policy;
* :mod:`~qama_compile.runtime.many` - :func:`solve_many` over many problems.
"""
