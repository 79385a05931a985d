"""The package version (one place; ``qama_compile.__version__`` and ``qama --version`` read it)."""

from __future__ import annotations

__version__ = "0.1.0"
