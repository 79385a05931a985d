"""Layer 7, *tools*: what users run on top of the runtime.

* :mod:`~qama_compile.tools.compare` - backends side by side on the same problems;
* :mod:`~qama_compile.tools.target_report` - what a problem becomes on each target; size sweeps;
* :mod:`~qama_compile.tools.demo` - the ``qama demo`` job;
* :mod:`~qama_compile.tools.plotting` - figures (matplotlib Agg, atomic writes);
* :mod:`~qama_compile.tools.tables` - plain-text tables.
"""
