"""A D-Wave QPU through dwave-system, as a ``dimod.Sampler`` (registered as ``dwave``).

``DWaveBackend`` wraps ``dwave.system.DWaveSampler`` in an ``EmbeddingComposite``
(minorminer finds an embedding per problem) or, when an ``embedding`` is given (for
example from qama-compile's own embedding pass), a ``FixedEmbeddingComposite``.

Credentials: a Leap API token from ``DWAVE_API_TOKEN`` or from the dwave-cloud-client
configuration file (``dwave config create``). Without one, constructing the backend
raises :class:`BackendError` that says how to configure it. A ``child`` sampler can be
injected instead (tests use ``dwave.system.testing.MockDWaveSampler``), so the whole path
(embedding, sampling, unembedding, chain breaks) runs offline.

>>> import dimod
>>> from dwave.system.testing import MockDWaveSampler
>>> qpu = DWaveBackend(child=MockDWaveSampler(substitute_kwargs={"seed": 0}))
>>> bqm = dimod.BinaryQuadraticModel({"a": 1.0, "b": -1.0}, {("a", "b"): -0.5}, 0.0, "SPIN")
>>> ss = qpu.sample(bqm, num_reads=4, seed=1)
>>> float(ss.first.energy), sorted(ss.info)[:2]
(-1.5, ['backend', 'chain_break_fraction'])
"""

from __future__ import annotations

import os
import time
from typing import Any

import dimod
import numpy as np

from qama_compile.errors import BackendError, ProblemTooLargeError

__all__ = ["DWaveBackend", "find_token"]

_HOW_TO = (
    "create a Leap API token at https://cloud.dwavesys.com/leap/ and run 'dwave config create' "
    "(or export DWAVE_API_TOKEN=...); or use a classical backend such as 'sa'"
)


def find_token() -> str | None:
    """The D-Wave API token from ``DWAVE_API_TOKEN`` or the dwave-cloud-client config, else ``None``."""
    token = os.environ.get("DWAVE_API_TOKEN")
    if token:
        return token
    try:
        from dwave.cloud.config import load_config

        found = load_config().get("token")
    except Exception:  # a broken config file is the same as none for this check
        return None
    return str(found) if found else None


class DWaveBackend(dimod.Sampler):  # type: ignore[misc]
    """A D-Wave QPU sampler with minor-embedding.

    Args:
        child: a structured sampler to use instead of ``DWaveSampler`` (e.g.
            ``MockDWaveSampler``); no credentials are needed then.
        embedding: a fixed embedding ``{variable: [qubits]}``; else one is found per problem.
        chain_strength: default chain strength (a number or a callable, see dwave-system);
            ``None`` uses dwave-system's uniform torque compensation.
        solver: solver selection passed to ``DWaveSampler`` (e.g. ``{"topology__type": "pegasus"}``).
        **client_options: other ``DWaveSampler`` options (``token``, ``region``, ``profile``...).
    """

    #: Reads (anneals) per problem when none are asked for.
    default_num_reads = 100

    def __init__(
        self,
        *,
        child: dimod.Sampler | None = None,
        embedding: dict[Any, Any] | None = None,
        chain_strength: Any = None,
        solver: Any = None,
        **client_options: Any,
    ) -> None:
        if child is None:
            if not (client_options.get("token") or find_token()):
                raise BackendError(
                    "no D-Wave credentials found (no DWAVE_API_TOKEN and no token in the dwave-cloud-client config)",
                    fix=_HOW_TO,
                    backend="dwave",
                )
            try:
                from dwave.system import DWaveSampler

                child = DWaveSampler(**({"solver": solver} if solver is not None else {}), **client_options)
            except Exception as exc:
                raise BackendError(
                    f"could not connect to a D-Wave solver: {exc}",
                    fix="check the token, network and solver name ('dwave ping' tests the configuration)",
                    backend="dwave",
                ) from exc
        self.child = child
        self.embedding = None if embedding is None else {v: list(c) for v, c in embedding.items()}
        self.chain_strength = chain_strength
        from dwave.system import EmbeddingComposite, FixedEmbeddingComposite

        self._composite: dimod.Sampler = (
            EmbeddingComposite(child) if self.embedding is None else FixedEmbeddingComposite(child, self.embedding)
        )

    @property
    def parameters(self) -> dict[str, list[Any]]:
        params = dict(self._composite.parameters)
        params.setdefault("seed", [])
        return params

    @property
    def properties(self) -> dict[str, Any]:
        child_props = dict(getattr(self.child, "properties", {}) or {})
        topology = child_props.get("topology")
        num_qubits = len(getattr(self.child, "nodelist", ()) or ()) or int(child_props.get("num_qubits", 0))
        return {
            "max_variables": num_qubits if self.embedding is None else len(self.embedding),
            "native_graph": topology,
            "num_qubits": num_qubits,
            "h_range": child_props.get("h_range"),
            "j_range": child_props.get("j_range"),
            "chip_id": child_props.get("chip_id"),
            "description": "D-Wave QPU via dwave-system "
            + ("EmbeddingComposite (minorminer)" if self.embedding is None else "FixedEmbeddingComposite"),
        }

    def _is_native(self, bqm: dimod.BinaryQuadraticModel) -> bool:
        """Whether every variable is a working qubit and every interaction a working coupler."""
        nodes = getattr(self.child, "nodelist", None)
        edges = getattr(self.child, "edgelist", None)
        if not nodes or edges is None or bqm.num_variables == 0:
            return False
        node_set = set(nodes)
        if not all(v in node_set for v in bqm.variables):
            return False
        edge_set = {frozenset(e) for e in edges}
        return all(frozenset((u, v)) in edge_set for u, v in bqm.quadratic)

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel,
        *,
        num_reads: int | None = None,
        seed: int | None = None,
        chain_strength: Any = None,
        **kwargs: Any,
    ) -> dimod.SampleSet:
        """Embed, sample on the QPU and unembed (majority vote on broken chains).

        ``seed`` seeds minorminer's embedding search only (a QPU is not reproducible).
        A problem already on the chip (labels are working qubits, interactions working
        couplers, as after ``solve(..., target=...)``) goes to the QPU directly
        (``info["native"]``); chains are then the compiler's and its decoder unembeds them.
        ``info`` gets ``chain_break_fraction`` (mean over reads; 0 for native problems),
        ``hardware_time_s`` (the QPU access time) and ``embedding_qubits`` (qubits used).
        """
        limit = self.properties["max_variables"]
        if self.embedding is None and bqm.num_variables > limit:
            raise ProblemTooLargeError(
                f"the problem has {bqm.num_variables} variables but the QPU has only {limit} qubits",
                fix="decompose the problem or lower fewer tokens or bits",
                size=bqm.num_variables,
                limit=limit,
                unit="qubits",
            )
        options: dict[str, Any] = dict(kwargs)
        if num_reads is not None:
            options["num_reads"] = int(num_reads)
        strength = chain_strength if chain_strength is not None else self.chain_strength
        if strength is not None:
            options["chain_strength"] = strength
        if self.embedding is None:
            params = dict(options.pop("embedding_parameters", {}) or {})
            if seed is not None:
                params.setdefault("random_seed", int(seed))
            options["embedding_parameters"] = params
        direct = self.embedding is None and self._is_native(bqm)
        if direct:  # already on the chip's qubits (e.g. compiled for a target): no second embedding
            for key in ("embedding_parameters", "chain_strength", "chain_break_method", "chain_break_fraction"):
                options.pop(key, None)
        else:
            options["return_embedding"] = True
        t0 = time.perf_counter()
        try:
            ss: dimod.SampleSet = (self.child if direct else self._composite).sample(bqm, **options)
            ss.resolve()
        except ValueError as exc:
            if "embedding" in str(exc).lower():
                raise BackendError(
                    f"no minor-embedding of the {bqm.num_variables}-variable problem was found: {exc}",
                    fix="use a smaller problem, or pass an embedding from qama-compile's embed pass",
                    backend="dwave",
                ) from exc
            raise
        wall = time.perf_counter() - t0
        context = ss.info.get("embedding_context", {})
        embedding = {v: [v] for v in bqm.variables} if direct else (context.get("embedding", self.embedding) or {})
        timing = ss.info.get("timing", {})
        cbf = (
            float(np.mean(ss.record.chain_break_fraction))
            if "chain_break_fraction" in ss.record.dtype.names and len(ss)
            else 0.0
        )
        ss.info.update(
            {
                "backend": "dwave",
                "chain_break_fraction": cbf,
                "embedding_qubits": int(sum(len(c) for c in embedding.values())),
                "native": direct,
                "hardware_time_s": float(timing["qpu_access_time"]) * 1e-6 if "qpu_access_time" in timing else None,
                "wall_time_s": wall,
            }
        )
        return ss
