"""Exact conversions between the IR and the boundary libraries (dimod, Qiskit), both ways.

Each conversion preserves the energy of every assignment; ``tests/test_convert.py``
proves it on random inputs.

>>> import numpy as np
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[1.0, -1.0], rows=[0], cols=[1], data=[2.0], offset=[0.25])
>>> bqm = ir_to_bqm(ir)
>>> float(bqm.energy({0: 1, 1: 1}))
2.25
>>> float(bqm_to_ir(bqm).energies([[1, 1]])[0, 0])
2.25
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse
from numpy.typing import NDArray

from ..errors import InvalidInputError
from .ir import QuadraticIR, Vartype

if TYPE_CHECKING:
    import dimod
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_optimization import QuadraticProgram


def _check_index(ir: QuadraticIR, index: int) -> int:
    if not -ir.batch_size <= index < ir.batch_size:
        raise InvalidInputError(
            f"problem index {index} out of range for a batch of {ir.batch_size}",
            fix=f"use an index in 0..{ir.batch_size - 1}",
        )
    return index % ir.batch_size


def ir_to_bqm(ir: QuadraticIR, index: int = 0, *, vartype: str = "BINARY") -> dimod.BinaryQuadraticModel:
    """Problem ``index`` of ``ir`` as a ``dimod.BinaryQuadraticModel`` in ``vartype``."""
    import dimod

    index = _check_index(ir, index)
    src = ir.to_spin() if vartype.upper() == "SPIN" else ir.to_binary()
    rows, cols, data = src.coo(index)
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        src.linear[index],
        (rows, cols, data),
        float(src.offset[index]),
        vartype=dimod.SPIN if vartype.upper() == "SPIN" else dimod.BINARY,
        variable_order=src.label_tuples(),
    )
    return bqm


def bqm_to_ir(bqm: dimod.BinaryQuadraticModel, *, labels: list[Any] | None = None) -> QuadraticIR:
    """A one-problem IR from a BQM. Labels that are all int 3-tuples become ``(head, token, bit)``."""
    order = list(bqm.variables) if labels is None else labels
    if set(order) != set(bqm.variables):
        raise InvalidInputError("labels must list exactly the BQM's variables")
    lin, (rows, cols, data), offset = bqm.to_numpy_vectors(variable_order=order)[:3]
    fields: tuple[str, ...]
    if order and all(
        isinstance(x, tuple) and len(x) == 3 and all(isinstance(y, (int, np.integer)) for y in x) for x in order
    ):
        label_arr, fields = np.asarray(order, dtype=np.int64), ("head", "token", "bit")
        order_idx = np.lexsort(label_arr.T[::-1])  # canonical (head, token, bit) order
    elif all(isinstance(x, (int, np.integer)) for x in order):
        label_arr, fields = np.asarray(order, dtype=np.int64).reshape(-1, 1), ("index",)
        order_idx = np.argsort(label_arr[:, 0], kind="stable")
    else:
        label_arr, fields = np.arange(len(order), dtype=np.int64).reshape(-1, 1), ("index",)
        order_idx = np.arange(len(order))
    position = np.empty(len(order), dtype=np.int64)
    position[order_idx] = np.arange(len(order))
    vartype: Vartype = "SPIN" if bqm.vartype.name == "SPIN" else "BINARY"
    return QuadraticIR.from_coo(
        linear=np.asarray(lin)[order_idx],
        rows=position[np.asarray(rows, dtype=np.int64)],
        cols=position[np.asarray(cols, dtype=np.int64)],
        data=np.asarray(data),
        offset=np.array([offset], dtype=np.float64),
        vartype=vartype,
        labels=label_arr[order_idx],
        label_fields=fields,
    )


def ir_to_qubo_matrix(ir: QuadraticIR, index: int = 0) -> tuple[NDArray[np.float64], float]:
    """Dense upper-triangular QUBO ``Q`` with the linear terms on the diagonal, and the offset."""
    index = _check_index(ir, index)
    binary = ir.to_binary()
    q = binary.dense_matrix(index)
    q[np.diag_indices_from(q)] += binary.linear[index]
    return q, float(binary.offset[index])


def qubo_matrix_to_ir(q: NDArray[np.float64], offset: float = 0.0) -> QuadraticIR:
    """A one-problem BINARY IR from a square QUBO matrix (any triangle; ``E = x^T Q x + c``)."""
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise InvalidInputError(f"a QUBO matrix must be square, got shape {q.shape}")
    r, c = np.nonzero(q)
    return QuadraticIR.from_coo(
        linear=np.zeros(q.shape[0]),
        rows=r,
        cols=c,
        data=q[r, c],
        offset=np.array([offset], dtype=np.float64),
        vartype="BINARY",
    )


def variable_names(ir: QuadraticIR) -> list[str]:
    """Names for file formats and Qiskit: ``x_t_i_r`` for (head, token, bit), else ``x_k``."""
    return ["x_" + "_".join(str(int(v)) for v in row) for row in ir.labels]


def ir_to_quadratic_program(ir: QuadraticIR, index: int = 0) -> QuadraticProgram:
    """Problem ``index`` as a minimisation ``QuadraticProgram`` over binary variables."""
    from qiskit_optimization import QuadraticProgram

    index = _check_index(ir, index)
    binary = ir.to_binary()
    qp = QuadraticProgram(name="qama")
    names = variable_names(binary)
    for name in names:  # QuadraticProgram has no bulk constructor for named variables
        qp.binary_var(name=name)
    rows, cols, data = binary.coo(index)
    v = binary.num_variables
    quadratic = scipy.sparse.coo_matrix((data, (rows, cols)), shape=(v, v)).tocsr()
    qp.minimize(constant=float(binary.offset[index]), linear=binary.linear[index], quadratic=quadratic)
    return qp


def quadratic_program_to_ir(qp: QuadraticProgram) -> QuadraticIR:
    """A one-problem BINARY IR from an unconstrained binary ``QuadraticProgram``."""
    from qiskit_optimization.problems import VarType

    if qp.linear_constraints or qp.quadratic_constraints:
        raise InvalidInputError(
            "the QuadraticProgram has constraints; only unconstrained problems map to the IR",
            fix="convert constraints to penalties first (qiskit_optimization.converters.QuadraticProgramToQubo)",
        )
    if any(v.vartype != VarType.BINARY for v in qp.variables):
        raise InvalidInputError("all QuadraticProgram variables must be binary")
    sign = 1.0 if qp.objective.sense.name == "MINIMIZE" else -1.0
    lin = sign * qp.objective.linear.to_array()
    quad = qp.objective.quadratic.coefficients.tocoo()
    labels, fields = _labels_from_names([v.name for v in qp.variables])
    return QuadraticIR.from_coo(
        linear=lin,
        rows=quad.row,
        cols=quad.col,
        data=sign * quad.data,
        offset=np.array([sign * qp.objective.constant], dtype=np.float64),
        vartype="BINARY",
        labels=labels,
        label_fields=fields,
    )


def _labels_from_names(names: list[str]) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    parts = [n.split("_")[1:] for n in names]
    if names and all(len(p) == 3 and all(s.isdigit() for s in p) for p in parts):
        return np.asarray(parts, dtype=np.int64), ("head", "token", "bit")
    return np.arange(len(names), dtype=np.int64).reshape(-1, 1), ("index",)


def ir_to_pauli(ir: QuadraticIR, index: int = 0) -> tuple[SparsePauliOp, float]:
    """Problem ``index`` as an Ising ``SparsePauliOp`` (no identity term) and offset.

    Variable ``k`` is qubit ``k`` with ``x_k = (1 - Z_k) / 2`` (so spin ``s_k = -Z_k``), the
    convention of qiskit-optimization: bitstring bit ``k`` = 1 means ``x_k = 1``.
    """
    from qiskit.quantum_info import SparsePauliOp

    index = _check_index(ir, index)
    spin = ir.to_spin()
    v = spin.num_variables
    rows, cols, data = spin.coo(index)
    lin = spin.linear[index]
    nz = np.nonzero(lin)[0]
    terms: list[tuple[str, list[int], complex]] = [("Z", [int(k)], complex(-lin[k])) for k in nz]
    terms += [("ZZ", [int(r), int(c)], complex(d)) for r, c, d in zip(rows, cols, data, strict=True)]
    if not terms:
        terms = [("Z", [0], 0j)]
    op = SparsePauliOp.from_sparse_list(terms, num_qubits=v).simplify(atol=0.0)
    return op, float(spin.offset[index])


def pauli_diagonal_energies(op: SparsePauliOp, offset: float, samples: NDArray[Any]) -> NDArray[np.float64]:
    """Energies of binary samples ``[S, V]`` under a Z-only operator (for tests and QAOA checks)."""
    z = 1 - 2 * np.asarray(samples, dtype=np.float64)  # [S, V]
    out = np.full(z.shape[0], offset)
    for pauli, coeff in zip(op.paulis, op.coeffs, strict=True):  # one term per coupler
        mask = np.asarray(pauli.z)
        out += coeff.real * np.prod(np.where(mask, z, 1.0), axis=1)
    return out
