"""Root pytest configuration: doctests run over the packages too (see Makefile `test`)."""

collect_ignore = ["qama_compile/__main__.py", "scripts", "experiments", "benchmarks"]
