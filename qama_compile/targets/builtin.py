"""The shipped targets, every figure with its source (docs/targets.md).

The D-Wave graphs are the ideal fabric graphs (a real QPU misses a few qubits: build the
target of the solver in hand with ``Target.from_sampler``, or model yield with
``Target.with_defects``); ``ibm-heron`` is qiskit-ibm-runtime's ``FakeFez`` calibration
snapshot when the ``ibm`` extra is installed, else the heavy-hex rule; the CIM
targets model the machines of the QAMA paper's hardware experiment and of Honjo et al.
2021; ``aer-statevector`` is sized from the memory available when it is built.

>>> sorted(builtin_targets())[:3]
['aer-statevector', 'chimera-c16', 'cim-100k']
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import Any

from ..core.graphs import chimera_graph, heavy_hex_graph, heron_coupling_map, pegasus_graph, zephyr_graph
from .devices import qiskit_backend_fields
from .target import Target

__all__ = ["ALIASES", "STATEVECTOR_BYTES_PER_AMPLITUDE", "builtin_targets", "statevector_qubit_limit"]

#: Bytes per amplitude of a complex128 statevector.
STATEVECTOR_BYTES_PER_AMPLITUDE = 16

#: Short names accepted by ``get_target``.
ALIASES: dict[str, str] = {
    "advantage": "dwave-advantage",
    "pegasus": "dwave-advantage",
    "advantage2": "dwave-advantage2",
    "zephyr": "dwave-advantage2",
    "chimera": "chimera-c16",
    "2000q": "chimera-c16",
    "cim": "cim-550",
    "heron": "ibm-heron",
    "aer": "aer-statevector",
    "statevector": "aer-statevector",
}


def _available_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is an Ocean dependency
        try:
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return 8 << 30


def statevector_qubit_limit(memory_bytes: int | None = None) -> int:
    """Largest ``n`` with ``16 * 2**n <= memory_bytes`` (default: available RAM now).

    >>> statevector_qubit_limit(16 * 2**20)
    20
    """
    mem = _available_memory() if memory_bytes is None else int(memory_bytes)
    if mem < STATEVECTOR_BYTES_PER_AMPLITUDE:
        return 0
    return math.floor(math.log2(mem / STATEVECTOR_BYTES_PER_AMPLITUDE))


DWAVE_SPECIFIC = "https://docs.dwavequantum.com/en/latest/quantum_research/solver_properties_specific.html"
DWAVE_ALL = "https://docs.dwavequantum.com/en/latest/quantum_research/solver_properties_all.html"
IBM_PROCESSORS = "https://quantum.cloud.ibm.com/docs/guides/processor-types"
HONJO_2021 = "Honjo et al., Sci. Adv. 7, eabh0952 (2021), https://pmc.ncbi.nlm.nih.gov/articles/PMC8480917"
QAMA_PAPER = "Du et al., QAMA, arXiv:2504.11083 (CIM hardware experiment), https://arxiv.org/abs/2504.11083"


def _aer_target() -> Target:
    limit = statevector_qubit_limit()
    return Target(
        name="aer-statevector",
        kind="simulator",
        topology="none",
        num_qubits=limit,
        h_range=(-math.inf, math.inf),
        j_range=(-math.inf, math.inf),
        coupling_bits=None,
        timing={"bytes_per_amplitude": STATEVECTOR_BYTES_PER_AMPLITUDE, "available_memory_bytes": _available_memory()},
        sources=("qiskit-aer statevector: 2**n complex128 amplitudes (16 bytes each)",),
        description="Qiskit Aer statevector simulator; qubit limit = floor(log2(available RAM / 16 B)) now",
    )


HERON_BASIS = ("cz", "id", "rz", "sx", "x")


@functools.lru_cache(maxsize=1)
def fake_heron_backend() -> Any:
    """qiskit-ibm-runtime's ``FakeFez`` (a Heron r2 calibration snapshot), or ``None`` without the ``ibm`` extra."""
    try:
        from qiskit_ibm_runtime.fake_provider import FakeFez
    except ImportError:
        return None
    return FakeFez()


@functools.lru_cache(maxsize=1)
def generic_heron_backend() -> Any:
    """A ``GenericBackendV2`` on the heavy-hex map of ``ibm-heron`` with the Heron basis and
    qiskit's generic (seeded, random) error rates: the device when the ``ibm`` extra is absent."""
    from qiskit.providers.fake_provider import GenericBackendV2

    return GenericBackendV2(156, basis_gates=list(HERON_BASIS), coupling_map=heron_coupling_map(), seed=0)


def _heron_target() -> Target:
    fake = fake_heron_backend()
    if fake is not None:
        return Target(
            **qiskit_backend_fields(
                fake,
                name="ibm-heron",
                topology="heavy-hex",
                sources=(
                    f"{IBM_PROCESSORS} (Heron r2: 156 qubits, heavy-hexagonal lattice)",
                    "coupling map, basis gates and calibration (errors, durations, T1/T2): qiskit-ibm-runtime "
                    "FakeFez, a snapshot of ibm_fez (Heron r2); installed with the 'ibm' extra",
                ),
                description="IBM Heron r2 (FakeFez calibration snapshot, 156 qubits) for QAOA circuit counts and noise",
            )
        )
    return Target(
        name="ibm-heron",
        kind="gate",
        topology="heavy-hex",
        num_qubits=156,
        h_range=(-math.inf, math.inf),
        j_range=(-math.inf, math.inf),
        coupling_bits=None,
        timing={},
        sources=(
            f"{IBM_PROCESSORS} (Heron r2: 156 qubits, heavy-hexagonal lattice)",
            "coupling map: heavy-hex rule (8 rows of 16 + 7x4 bridges, degree <= 3) built with qiskit; "
            "device: GenericBackendV2 with generic error rates (install the 'ibm' extra for FakeFez's calibration)",
        ),
        description="IBM Heron r2 heavy-hex device (156 qubits) for QAOA circuit counts",
        graph_id="heavy-hex(8,16)",
        graph_factory=heavy_hex_graph,
        basis_gates=HERON_BASIS,
        device_factory=generic_heron_backend,
    )


def builtin_targets() -> dict[str, Callable[[], Target]]:
    """Factories of the shipped targets, by name (a target is built when asked for)."""
    return {
        "dwave-advantage": lambda: Target(
            name="dwave-advantage",
            kind="annealer",
            topology="pegasus",
            num_qubits=5640,
            h_range=(-4.0, 4.0),
            j_range=(-1.0, 1.0),
            extended_j_range=(-2.0, 1.0),
            per_qubit_coupling_range=(-18.0, 15.0),
            coupling_bits=None,
            timing={
                "programming_us": 14100.0,
                "anneal_us": 20.0,
                "readout_us_min": 17.0,
                "readout_us_max": 235.0,
                "delay_per_sample_us": 20.5,
            },
            sources=(
                f"{DWAVE_SPECIFIC} (Advantage_system4.1: P16, 5627 working qubits, 40279 couplers, timing)",
                f"{DWAVE_ALL} (h_range, j_range, extended_j_range, per_qubit_coupling_range, default anneal 20 us)",
            ),
            description="D-Wave Advantage, ideal Pegasus P16 graph (5640 fabric qubits; real QPUs miss a few)",
            graph_id="pegasus(16)",
            graph_factory=lambda: pegasus_graph(16),
        ),
        "dwave-advantage2": lambda: Target(
            name="dwave-advantage2",
            kind="annealer",
            topology="zephyr",
            num_qubits=4800,
            h_range=(-4.0, 4.0),
            j_range=(-1.0, 1.0),
            extended_j_range=(-2.0, 1.0),
            coupling_bits=None,
            timing={
                "programming_us": 33600.0,
                "anneal_us": 20.0,
                "readout_us_min": 17.0,
                "readout_us_max": 101.0,
                "delay_per_sample_us": 60.6,
            },
            sources=(
                f"{DWAVE_SPECIFIC} (Advantage2_system1.7: Z12, 4592 working qubits, 41779 couplers, timing)",
                f"{DWAVE_ALL} (h_range, j_range, extended_j_range as documented for QPU solvers)",
            ),
            description="D-Wave Advantage2, ideal Zephyr Z12 graph (4800 fabric qubits, t=4)",
            graph_id="zephyr(12,4)",
            graph_factory=lambda: zephyr_graph(12, 4),
        ),
        "chimera-c16": lambda: Target(
            name="chimera-c16",
            kind="annealer",
            topology="chimera",
            num_qubits=2048,
            h_range=(-2.0, 2.0),
            j_range=(-1.0, 1.0),
            extended_j_range=(-2.0, 1.0),
            coupling_bits=None,
            timing={},
            sources=(
                "D-Wave 2000Q: Chimera C16 (16x16 K4,4 cells), ideal graph from dwave-graphs chimera_graph(16)",
                "h/J ranges: commonly reported 2000Q values, unverified here (docs/targets.md)",
            ),
            description="Legacy D-Wave 2000Q, ideal Chimera C16 graph (2048 qubits)",
            graph_id="chimera(16,4)",
            graph_factory=lambda: chimera_graph(16),
        ),
        "cim-550": lambda: Target(
            name="cim-550",
            kind="cim",
            topology="complete",
            num_qubits=550,
            h_range=(-1.0, 1.0),
            j_range=(-1.0, 1.0),
            coupling_bits=8,
            native_fields=False,
            timing={},
            sources=(
                QAMA_PAPER,
                "550 spins and 8-bit signed couplings: this project's model of that machine class (docs/targets.md)",
            ),
            description="Fully connected 550-spin CIM, 8-bit signed couplings; fields via an ancilla spin",
        ),
        "cim-100k": lambda: Target(
            name="cim-100k",
            kind="cim",
            topology="complete",
            num_qubits=100_512,
            h_range=(-1.0, 1.0),
            j_range=(-1.0, 1.0),
            coupling_bits=8,
            native_fields=False,
            timing={},
            sources=(
                HONJO_2021 + " (100,512 DOPO spins, measurement-feedback coupling)",
                "8-bit couplings: assumption of this toolkit (docs/targets.md)",
            ),
            description="Measurement-feedback CIM class, 100,512 spins (Honjo et al. 2021)",
        ),
        "ibm-heron": _heron_target,
        "aer-statevector": _aer_target,
    }
