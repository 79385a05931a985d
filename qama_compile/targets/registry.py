"""The target registry: shipped targets by name, plus the targets a user registers.

A :class:`TargetRegistry` is an ordinary object; :data:`REGISTRY` is the process-wide one
behind :func:`get_target`, :func:`available_targets` and :func:`register_target`. Tests (and
programs that register temporary targets) use :meth:`TargetRegistry.scoped`, which undoes
every registration when the block ends.

>>> import networkx as nx
>>> from qama_compile.targets import Target
>>> ring = Target.from_graph("ring-6", nx.cycle_graph(6), h_range=(-1, 1), j_range=(-1, 1))
>>> with REGISTRY.scoped():
...     _ = register_target(ring)
...     get_target("ring-6") == ring
True
>>> "ring-6" in available_targets()
False
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from ..errors import InvalidInputError, UnknownNameError
from .builtin import ALIASES, builtin_targets
from .target import Target

__all__ = ["REGISTRY", "TargetRegistry", "available_targets", "get_target", "register_target"]


class TargetRegistry:
    """Names -> targets: shipped factories (built on demand), user targets and aliases."""

    def __init__(
        self, factories: dict[str, Callable[[], Target]] | None = None, aliases: dict[str, str] | None = None
    ) -> None:
        self._factories = dict(factories or {})
        self._aliases = dict(aliases or {})
        self._user: dict[str, Target] = {}
        self._lock = threading.Lock()

    @classmethod
    def with_builtins(cls) -> TargetRegistry:
        """A registry holding the shipped targets and their aliases."""
        return cls(builtin_targets(), ALIASES)

    def names(self) -> list[str]:
        """Names of the shipped and registered targets, sorted."""
        with self._lock:
            return sorted(set(self._factories) | set(self._user))

    def register(self, target: Target, *, overwrite: bool = False) -> Target:
        """Add a user target under its name; ``overwrite=True`` replaces one of the same name."""
        if not isinstance(target, Target):
            raise InvalidInputError(
                f"register takes a Target, got {type(target).__name__}", fix="build one with Target.from_graph(...)"
            )
        with self._lock:
            if not overwrite and (target.name in self._factories or target.name in self._user):
                raise InvalidInputError(
                    f"target {target.name!r} already exists", fix="pass overwrite=True or pick a new name"
                )
            self._user[target.name] = target
        return target

    def unregister(self, name: str) -> None:
        """Remove a user target (shipped targets stay)."""
        with self._lock:
            if name not in self._user:
                raise UnknownNameError(
                    f"no user target named {name!r}", fix="see available_targets()", name=name, known=sorted(self._user)
                )
            del self._user[name]

    def get(self, name: str | Target) -> Target:
        """The target ``name`` (a :class:`Target` passes through; aliases are accepted)."""
        if isinstance(name, Target):
            return name
        if not isinstance(name, str):
            raise UnknownNameError(
                f"unknown target {name!r}; known targets: {', '.join(self.names())}",
                fix="pass a target name (a string), or build one with Target.from_graph(...)",
                name=name,
                known=self.names(),
            )
        with self._lock:
            if name in self._user:
                return self._user[name]
            key = self._aliases.get(name.lower(), name)
            factory = self._factories.get(key)
        if factory is None:
            known = self.names()
            raise UnknownNameError(
                f"unknown target {name!r}; known targets: {', '.join(known)}",
                fix="pick a known target or build one with Target.from_graph(...)",
                name=name,
                known=known,
            )
        return factory()

    @contextlib.contextmanager
    def scoped(self) -> Iterator[TargetRegistry]:
        """A block whose registrations are undone when it ends."""
        with self._lock:
            saved = dict(self._user)
        try:
            yield self
        finally:
            with self._lock:
                self._user = saved


#: The process-wide registry.
REGISTRY = TargetRegistry.with_builtins()


def get_target(name: str | Target) -> Target:
    """The target ``name`` from :data:`REGISTRY` (a :class:`Target` passes through)."""
    return REGISTRY.get(name)


def available_targets() -> list[str]:
    """Names of the shipped and registered targets.

    >>> "dwave-advantage" in available_targets()
    True
    """
    return REGISTRY.names()


def register_target(target: Target, *, overwrite: bool = False) -> Target:
    """Add a user target to :data:`REGISTRY` (by its name)."""
    return REGISTRY.register(target, overwrite=overwrite)
