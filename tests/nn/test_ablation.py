"""qama_compile.nn.ablation: solver ablations as backends, and the selection probe."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    import torch
else:
    torch = pytest.importorskip("torch")

from qama_compile.core.exact import lowest_states
from qama_compile.core.lowering import build_qama_ir
from qama_compile.errors import InvalidInputError
from qama_compile.nn import QAMA, AllSelected, QAMultiheadAttention, RandomSelection, SelectionProbe

F64 = torch.float64


def _qkv(b: int, h: int, n: int, d: int = 4, *, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, n, d, generator=g, dtype=F64) for _ in range(3)]


def test_all_selected_is_the_given_all_ones_solution_and_skips_padded_keys() -> None:
    q, k, v = _qkv(3, 2, 4)
    pad = torch.tensor([[False, False, False, True], [False, False, False, False], [False, True, False, False]])
    ablated = QAMA(2, bits=2, backend=AllSelected(), seed=0).double()
    given = QAMA(2, bits=2, backend="exact", seed=0).double()
    out = ablated(q, k, v, key_padding_mask=pad)
    ones = (~pad)[:, None, :, None].expand(3, 2, 4, 2).to(torch.int8)
    torch.testing.assert_close(out, given(q, k, v, key_padding_mask=pad, solution=ones), rtol=0, atol=0)
    assert torch.equal(ablated.last_solution, ones)
    assert ablated.last_solve_info["path"] == "batched" and given.solve_calls == 0


def test_random_selection_repeats_with_the_seed_and_has_its_density() -> None:
    q, k, v = _qkv(64, 2, 8)
    runs = []
    for _ in range(2):
        op = QAMA(2, bits=2, backend=RandomSelection(0.3), num_reads=8, seed=5).double()
        op(q, k, v)
        op(q, k, v)
        runs.append(op.last_solution.clone())
    assert torch.equal(runs[0], runs[1])  # same seed, same selection (second call of each run)
    first = QAMA(2, bits=2, backend=RandomSelection(0.3), seed=5).double()
    first(q, k, v)
    assert not torch.equal(first.last_solution, runs[0])  # calls differ
    bits = runs[0].double()
    m = bits.numel()  # 64 * 2 * 8 * 2 = 2048 independent bits: 6 standard deviations
    assert abs(float(bits.mean()) - 0.3) < 6 * (0.3 * 0.7 / m) ** 0.5
    assert QAMA(2, bits=1, backend=RandomSelection(0.0), seed=0).double()(q, k, v).isfinite().all()


@pytest.mark.parametrize("density", [-0.1, 1.5, "0.5", True, float("nan")])
def test_random_selection_refuses_a_bad_density(density: object) -> None:
    with pytest.raises(InvalidInputError, match="density"):
        RandomSelection(density)  # type: ignore[arg-type]


def test_ablations_refuse_sampling_options() -> None:
    ir = build_qama_ir(np.zeros((1, 1, 2, 2)), np.ones((1, 1, 2)), bits=1, alpha=1.0, beta=1.0, penalty=2.0)
    for sampler in (AllSelected(), RandomSelection(0.5)):
        with pytest.raises(InvalidInputError, match="options"):
            sampler.sample_ir(ir, num_reads=1, seed=0, num_steps=3)


def test_probe_is_transparent_and_measures_the_gap_to_the_exact_ground_state() -> None:
    q, k, v = _qkv(6, 2, 4, seed=1)
    plain = QAMA(2, bits=1, backend="cim", backend_options={"num_threads": 1}, num_reads=2, seed=3).double()
    probe = SelectionProbe("cim", backend_options={"num_threads": 1}, measure_gap=True)
    probed = QAMA(2, bits=1, backend=probe, num_reads=2, seed=3).double()
    torch.testing.assert_close(probed(q, k, v), plain(q, k, v), rtol=0, atol=0)
    assert torch.equal(probed.last_solution, plain.last_solution)
    # Same spins; the energy is recomputed from the IR for the probe's one kept read and for the
    # plain run's two reads, whose different array shapes may round the last bit differently.
    np.testing.assert_allclose(probed.last_solver_energy, plain.last_solver_energy, rtol=1e-13, atol=0)
    s = probe.summary()
    assert s["calls"] == 1 and s["problems"] == 6 and s["gap_problems"] == 6
    assert s["bit_density"] == pytest.approx(float(plain.last_solution.double().mean()))
    with torch.no_grad():
        couplings, fields, _ = probed.couplings_and_fields(q, k, v)
    ir = build_qama_ir(couplings.numpy(), fields.numpy(), bits=1, alpha=1.0, beta=1.0, penalty=2.0)
    ground = lowest_states(ir, k=1)[1][:, 0]
    gap = plain.last_solver_energy - ground
    assert s["mean_gap"] == pytest.approx(float(gap.mean()), abs=1e-9)
    assert s["at_ground_fraction"] == pytest.approx(float(np.mean(gap <= 1e-9 * np.maximum(1, np.abs(ground)))))


def test_probe_of_all_selected_reports_a_positive_gap_and_skips_large_problems() -> None:
    q, k, v = _qkv(8, 2, 5, seed=2)
    probe = SelectionProbe(AllSelected(), measure_gap=True)
    QAMA(2, bits=1, backend=probe, seed=0).double()(q, k, v)
    s = probe.summary()
    assert s["bit_density"] == 1.0 and s["mean_gap"] > 0 and s["at_ground_fraction"] < 1
    small = SelectionProbe(AllSelected(), measure_gap=True, exact_max_variables=4)
    QAMA(2, bits=1, backend=small, seed=0).double()(q, k, v)
    assert small.summary()["gap_problems"] == 0 and small.summary()["gap_skipped"] == 8
    probe.reset()
    probe.measure_gap = False
    QAMA(2, bits=1, backend=probe, seed=0).double()(q, k, v)
    assert probe.summary()["problems"] == 8 and probe.summary()["gap_problems"] == 0


def test_exact_probe_has_no_gap_and_wraps_a_dimod_backend() -> None:
    q, k, v = _qkv(3, 2, 3, seed=4)
    exact = SelectionProbe("exact", measure_gap=True)
    QAMA(2, bits=2, backend=exact, seed=0).double()(q, k, v)
    assert exact.summary()["mean_gap"] == 0 and exact.summary()["at_ground_fraction"] == 1
    sa = SelectionProbe("sa", measure_gap=True)
    QAMA(2, bits=1, backend=sa, num_reads=4, sample_options={"num_sweeps": 50}, seed=0).double()(q, k, v)
    assert sa.summary()["problems"] == 3 and sa.summary()["mean_gap"] >= 0


def test_ablations_in_the_drop_in_layer_train() -> None:
    torch.manual_seed(0)
    layer = QAMultiheadAttention(8, 2, batch_first=True, bits=1, backend=SelectionProbe(RandomSelection(0.5)), seed=1)
    x = torch.randn(4, 5, 8, requires_grad=True)
    out, _ = layer(x, x, x)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert layer.qama.backend.summary()["problems"] == 4
