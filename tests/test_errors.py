from __future__ import annotations

import pytest

from qama_compile import errors
from qama_compile.base.optional import has_module, optional_import


def test_every_error_is_a_qama_error() -> None:
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert issubclass(obj, errors.QamaError)


def test_fields_and_fix() -> None:
    exc = errors.ProblemTooLargeError("too big", fix="shrink it", size=10, limit=5, unit="variables")
    assert (exc.size, exc.limit, exc.unit) == (10, 5, "variables")
    assert str(exc) == "too big; fix: shrink it"


def test_missing_optional_dependency_names_pip_command() -> None:
    with pytest.raises(errors.MissingDependencyError, match="pip install 'no_such_pkg_qama'") as info:
        optional_import("no_such_pkg_qama.sub", purpose="testing")
    assert info.value.package == "no_such_pkg_qama"
    assert isinstance(info.value, ImportError)
    assert not has_module("no_such_pkg_qama")
