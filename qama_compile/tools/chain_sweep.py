"""Sweep the chain strength: :func:`compare` once per value, one table.

With a ``target`` the chain strength is a compile option (the chains are built by the
compiler, so every backend samples a different physical problem per value); without one it
is a constructor option of the backends that embed themselves (``dwave``), and backends
without a ``chain_strength`` option run once. Rows are labelled ``"<backend> cs=<value>"``
and carry the value in a ``chain_strength`` field.

>>> import numpy as np
>>> from qama_compile import lower_attention
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 2, 4)), bits=2)
>>> res = sweep_chain_strength(
...     problem, chain_strengths=[0.5, "torque"], backends=["sa"], target="chimera-c16", num_reads=20, progress=False
... )
>>> [(r["backend"], r["status"]) for r in res.rows]
[('sa cs=0.5', 'ok'), ('sa cs=torque', 'ok')]
>>> parse_chain_strengths("1,2.5,scaled")
[1.0, 2.5, 'scaled']
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.problem import AttentionProblem
from ..errors import InvalidInputError, QamaError
from ..passes.options import CHAIN_STRENGTH_RULES
from .compare import CompareResult, compare

__all__ = ["chain_strength_label", "parse_chain_strengths", "sweep_chain_strength"]


def _check(value: Any) -> float | str:
    if isinstance(value, str) and value in CHAIN_STRENGTH_RULES:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    raise InvalidInputError(
        f"a chain strength must be a positive number, 'torque' or 'scaled', got {value!r}",
        fix="pass e.g. 1,2,torque",
    )


def parse_chain_strengths(text: str) -> list[float | str]:
    """``"1,2,torque"`` -> ``[1.0, 2.0, "torque"]`` (each a positive number or a rule name)."""
    out: list[float | str] = []
    for item in (t.strip() for t in str(text).split(",")):
        if not item:
            continue
        try:
            out.append(_check(float(item)))
        except ValueError:
            out.append(_check(item))
    if not out:
        raise InvalidInputError(
            f"--chain-strength {text!r} names no value", fix="pass e.g. --chain-strength 1,2,torque"
        )
    return out


def chain_strength_label(value: float | str) -> str:
    """``2.0`` -> ``"cs=2"``, ``"torque"`` -> ``"cs=torque"``."""
    return f"cs={value:g}" if isinstance(value, float) else f"cs={value}"


def _takes_chain_strength(name: str) -> bool:
    from ..runtime.registry import backend_class

    try:
        return "chain_strength" in inspect.signature(backend_class(name)).parameters
    except (QamaError, TypeError, ValueError):
        return False


def sweep_chain_strength(
    problem: AttentionProblem,
    *,
    chain_strengths: Sequence[float | str],
    backends: Sequence[str] = ("dwave",),
    target: Any = None,
    backend_options: Mapping[str, Mapping[str, Any]] | None = None,
    **compare_options: Any,
) -> CompareResult:
    """:func:`~qama_compile.tools.compare.compare` once per chain strength, merged into one result.

    Args:
        problem: the QAMA problems.
        chain_strengths: positive numbers and/or ``"torque"`` / ``"scaled"``.
        backends: backend names.
        target: compile for it (the chain strength is then a compile option for every backend).
        backend_options: constructor options per backend (e.g. ``{"dwave": {"sampler": mock}}``).
        **compare_options: ``num_reads``, ``seed``, ``progress``, ``client``, ... of ``compare``.
    """
    values = [_check(v) for v in chain_strengths]
    if not values:
        raise InvalidInputError("no chain strengths to sweep", fix="pass e.g. chain_strengths=[1.0, 2.0, 'torque']")
    names = [backends] if isinstance(backends, str) else list(backends)
    options = {k: dict(v) for k, v in (backend_options or {}).items()}
    if target is None:
        swept = [n for n in names if _takes_chain_strength(n)]
        if not swept:
            raise InvalidInputError(
                f"none of the backends {names} takes a chain_strength option and no target was given",
                fix="pass a target (the compiler builds the chains) or a backend that embeds, e.g. 'dwave'",
            )
        fixed = [n for n in names if n not in swept]
    else:
        swept, fixed = names, []
    parts: list[tuple[float | str | None, CompareResult]] = []
    if fixed:
        parts.append((None, compare(problem, backends=fixed, backend_options=options, **compare_options)))
    for value in values:
        if target is None:
            per = {**options, **{n: {**options.get(n, {}), "chain_strength": value} for n in swept}}
            part = compare(problem, backends=swept, backend_options=per, **compare_options)
        else:
            part = compare(
                problem,
                backends=swept,
                target=target,
                backend_options=options,
                compile_options={"chain_strength": value},
                **compare_options,
            )
        parts.append((value, part))
    return _merge(parts, values)


def _merge(parts: list[tuple[float | str | None, CompareResult]], values: list[float | str]) -> CompareResult:
    first = parts[0][1]
    rows: list[dict[str, Any]] = []
    energies: dict[str, Any] = {}
    weights: dict[str, Any] = {}
    for value, part in parts:
        label = "" if value is None else " " + chain_strength_label(value)
        for row in part.rows:
            rows.append({**row, "backend": row["backend"] + label, "chain_strength": value})
        energies.update({name + label: e for name, e in part.energies.items()})
        weights.update({name + label: w for name, w in part.weights.items()})
    rows.sort(key=lambda r: r["problem"])  # stable: problem, then sweep order
    info = {**first.info, "backends": list(energies), "chain_strengths": list(values)}
    info.pop("compile_options", None)
    return CompareResult(
        rows=rows,
        energies=energies,
        weights=weights,
        reference_weights=first.reference_weights,
        reference_energies=first.reference_energies,
        attention=first.attention,
        info=info,
    )
