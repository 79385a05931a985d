"""The backend registry: built-ins, entry points, refusals."""

from __future__ import annotations

import pytest

from qama_compile import available_backends, get_backend
from qama_compile.errors import BackendError, InvalidInputError, UnknownNameError
from qama_compile.runtime import registry
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


class _FakeEntryPoint:
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value


def _with_entry_points(monkeypatch: pytest.MonkeyPatch, eps: list[_FakeEntryPoint]) -> None:
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == ENTRY_POINT_GROUP else [])


NOT_A_SAMPLER = 42  # what a broken entry point might point at


class ThirdParty:
    """A third-party backend: any class with a sample method."""

    def sample(self, bqm: object) -> None:
        raise NotImplementedError


def test_entry_point_may_not_shadow_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_entry_points(monkeypatch, [_FakeEntryPoint("exact", f"{__name__}:ThirdParty")])
    with pytest.warns(RuntimeWarning, match="uses the name of a built-in backend and is ignored"):
        cls = registry.backend_class("exact")
    assert cls.__name__ == "ExactSampler"  # the built-in stays


def test_loaded_object_must_be_a_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_entry_points(
        monkeypatch,
        [_FakeEntryPoint("broken", f"{__name__}:NOT_A_SAMPLER"), _FakeEntryPoint("mine", f"{__name__}:ThirdParty")],
    )
    assert {"broken", "mine"} <= set(available_backends())
    with pytest.raises(BackendError, match="not a sampler class") as exc:
        get_backend("broken")
    assert "qama_compile.testing" in str(exc.value.fix)
    assert isinstance(get_backend("mine"), ThirdParty)


def test_as_sampler_refuses_options_for_objects_and_non_samplers() -> None:
    _, name = registry.as_sampler(ThirdParty())
    assert name == "ThirdParty"
    with pytest.raises(InvalidInputError, match="only apply to a backend given by name"):
        registry.as_sampler(ThirdParty(), {"x": 1})
    with pytest.raises(InvalidInputError, match="backend must be a backend name or a sampler"):
        registry.as_sampler(object())
