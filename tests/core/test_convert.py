"""Every representation gives the same energy for the same assignment (docs/hamiltonian.md, section 7)."""

from __future__ import annotations

import dimod
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qama_compile import lower_attention
from qama_compile.core.convert import (
    bqm_to_ir,
    ir_to_bqm,
    ir_to_pauli,
    ir_to_quadratic_program,
    ir_to_qubo_matrix,
    pauli_diagonal_energies,
    quadratic_program_to_ir,
    qubo_matrix_to_ir,
)
from qama_compile.errors import InvalidInputError

from ..reference import design_energy

problems = st.fixed_dictionaries(
    {
        "heads": st.integers(1, 3),
        "tokens": st.integers(1, 3),
        "dim": st.integers(1, 4),
        "bits": st.integers(1, 3),
        "seed": st.integers(0, 2**31 - 1),
        "normalize": st.sampled_from([None, "standardise", "minmax"]),
    }
)


def _make(p: dict) -> tuple:
    rng = np.random.default_rng(p["seed"])
    q, k, v = rng.normal(size=(3, 2, p["heads"], p["tokens"], p["dim"])) * rng.uniform(0.2, 4)
    problem = lower_attention(q, k, v, bits=p["bits"], normalize=p["normalize"], penalty=rng.uniform(0, 4))
    x = rng.integers(0, 2, size=(8, problem.ir.num_variables))
    return problem, x, (q, k, v)


@given(problems)
def test_all_representations_agree(p: dict) -> None:
    problem, x, (q, k, v) = _make(p)
    expected = problem.reference_energy(x)  # straight from the formula, not from the IR
    assert np.allclose(problem.energies(x), expected, atol=1e-9)
    if p["normalize"] is None:
        loop = [design_energy(q[1], k[1], v[1], xs, bits=p["bits"], penalty=problem.penalty) for xs in x]
        assert np.allclose(expected[1], loop, atol=1e-9)
    for b in range(2):
        want = expected[b]
        bqm = problem.to_bqm(b)
        assert bqm.vartype is dimod.BINARY
        assert np.allclose(bqm.energies((x, problem.ir.label_tuples())), want)
        spin_bqm = problem.to_bqm(b, vartype="SPIN")
        assert np.allclose(spin_bqm.energies((2 * x - 1, problem.ir.label_tuples())), want)
        qp = problem.to_quadratic_program(b)
        assert np.allclose([qp.objective.evaluate(xs) for xs in x], want)
        op, offset = problem.to_pauli(b)
        assert np.allclose(pauli_diagonal_energies(op, offset, x), want)
        qmat, const = problem.qubo_matrix(b)
        assert np.allclose(np.einsum("si,ij,sj->s", x, qmat, x) + const, want)
        # ... and back again
        assert np.allclose(bqm_to_ir(bqm).energies(x)[0], want)
        assert np.allclose(bqm_to_ir(spin_bqm).energies(2 * x - 1)[0], want)
        assert np.allclose(quadratic_program_to_ir(qp).energies(x)[0], want)
        assert np.allclose(qubo_matrix_to_ir(qmat, const).energies(x)[0], want)


def test_pauli_matches_full_matrix_diagonal(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 2, 3)), bits=2)  # 8 qubits
    op, offset = problem.to_pauli()
    diag = op.to_matrix(sparse=True).diagonal().real + offset
    v = problem.ir.num_variables
    states = (np.arange(2**v)[:, None] >> np.arange(v)) & 1  # qiskit: bit k of the index is qubit k
    assert np.allclose(diag, problem.energies(states)[0])


def test_bqm_round_trip_keeps_labels_and_order(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 2, 3)), bits=2)
    bqm = problem.to_bqm()
    assert set(bqm.variables) == set(problem.ir.label_tuples())
    shuffled = dimod.BinaryQuadraticModel(bqm.vartype)
    for var in reversed(list(bqm.variables)):
        shuffled.add_variable(var, bqm.get_linear(var))
    shuffled.add_quadratic_from(bqm.quadratic)
    shuffled.offset = bqm.offset
    ir = bqm_to_ir(shuffled)
    assert ir.labels.tolist() == problem.ir.labels.tolist()
    x = rng.integers(0, 2, size=(4, ir.num_variables))
    assert np.allclose(ir.energies(x), problem.energies(x))


def test_string_labels_become_indices() -> None:
    bqm = dimod.BinaryQuadraticModel({"b": 1.0, "a": -1.0}, {("a", "b"): 2.0}, 0.5, "SPIN")
    ir = bqm_to_ir(bqm)
    assert ir.label_fields == ("index",)
    assert ir.energies([[1, 1]])[0, 0] == pytest.approx(bqm.energy({"b": 1, "a": 1}))


def test_qp_bad_inputs() -> None:
    from qiskit_optimization import QuadraticProgram

    qp = QuadraticProgram()
    qp.binary_var("a")
    qp.integer_var(0, 3, "n")
    with pytest.raises(InvalidInputError, match="binary"):
        quadratic_program_to_ir(qp)
    qp2 = QuadraticProgram()
    qp2.binary_var("a")
    qp2.linear_constraint({"a": 1}, "<=", 1)
    with pytest.raises(InvalidInputError, match="constraints"):
        quadratic_program_to_ir(qp2)
    maxp = QuadraticProgram()
    maxp.binary_var("a")
    maxp.maximize(linear={"a": 2.0}, constant=1.0)
    assert quadratic_program_to_ir(maxp).energies([[1]])[0, 0] == pytest.approx(-3.0)


def test_index_out_of_range(rng: np.random.Generator) -> None:
    problem = lower_attention(*rng.normal(size=(3, 2, 2, 3)), bits=1)
    with pytest.raises(InvalidInputError, match="index 3 out of range"):
        ir_to_bqm(problem.ir, 3)
    with pytest.raises(InvalidInputError, match="square"):
        qubo_matrix_to_ir(np.zeros((2, 3)))
    assert ir_to_qubo_matrix(problem.ir, -1)[0].shape == (4, 4)
    assert ir_to_quadratic_program(problem.ir).get_num_binary_vars() == 4
    assert ir_to_pauli(problem.ir)[0].num_qubits == 4
