"""Root pytest configuration: doctests run over the packages too (see Makefile `test`)."""

from __future__ import annotations

import importlib.util

collect_ignore = ["qama_compile/__main__.py", "scripts", "experiments", "benchmarks"]
if importlib.util.find_spec("torch") is None:  # the torch extra is optional
    collect_ignore += ["qama_compile/nn"]
