from __future__ import annotations

import pytest

from qama_compile import available_backends, get_backend
from qama_compile.errors import UnknownNameError
from qama_compile.runtime.registry import ENTRY_POINT_GROUP


def test_exact_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert "exact" in names
    assert "exact" in available_backends()
    assert get_backend("exact", max_variables=10).properties["max_variables"] == 10


def test_unknown_backend_lists_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_backend("quantum-magic")
    assert "exact" in info.value.known
    assert "known backends" in str(info.value)
