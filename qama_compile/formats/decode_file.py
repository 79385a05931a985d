"""Decode samples obtained anywhere with a physical file alone: ``compile -> run elsewhere -> decode``.

Samples of the physical problem (columns = the file's qubits) come as:

* a dimod ``SampleSet`` JSON (``json.dump(sampleset.to_serializable(), fh)``, ``.json``): its
  variable labels must be the file's qubit ids (any order; columns are matched by label);
* a CSV of spins (``.csv``, one sample per line, ``#`` comments), columns in the file's qubit order;
* an NPZ (``.npz``) with ``samples`` ``[S, Q]`` (or ``[B, S, Q]``, one block per problem) and
  optionally ``qubits [Q]`` (then columns are matched by qubit id).

Values are spins ``-1/+1`` or binary ``0/1``: stated (``vartype=``) or inferred strictly (only
``{-1, 1}`` is SPIN, only ``{0, 1}`` BINARY; anything else is refused).

>>> import numpy as np, tempfile, pathlib
>>> from qama_compile import compile, lower_attention
>>> from qama_compile.formats.physical import export_compiled
>>> problem = lower_attention(*np.random.default_rng(0).normal(size=(3, 1, 1, 3, 4)), bits=1)
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> cp = compile(problem, target="chimera-c16")
>>> _ = export_compiled(cp, d / "p.json")
>>> spins = np.random.default_rng(1).choice([-1, 1], size=(4, cp.num_qubits))
>>> np.savetxt(d / "s.csv", spins, fmt="%d", delimiter=",")
>>> out = decode_file(d / "p.json", d / "s.csv")
>>> bool(np.array_equal(out.energies, cp.decode(spins)[1]["logical_energies"])), out.masks.shape
(True, (1, 4, 1, 3, 3))
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write_bytes
from ..base.safeload import loads_json, read_npz
from ..core.ir import Vartype
from ..errors import FileFormatError, InvalidInputError
from ._base import CORRUPT, DEFAULT_MAX_BYTES, check_declared, check_size, fail, read_text
from .physical_file import PhysicalFile
from .registry import read_file

__all__ = ["DecodedSamples", "decode_file", "infer_vartype", "read_samples"]

_SAMPLES = "samples"
#: Peak bytes of parsing per byte of JSON / CSV text.
TEXT_BYTES_PER_BYTE = 32


@dataclass(frozen=True, eq=False)
class DecodedSamples:
    """Physical samples decoded through a physical file.

    Attributes:
        problems: the problem indices of the batch decoded (``[B']``).
        logical: logical samples ``[B', S, V]`` (the logical problem's vartype).
        energies: logical energies ``[B', S]``, recomputed from the logical problem.
        physical_energies: energies ``[B', S]`` of the samples under the physical problem.
        chain_break_fraction: ``[B']`` (zeros without an embedding).
        weights: token weights ``[B', S, H, N]``, ``masks`` ``[B', S, H, N, N]`` (``None``
            when the file has no attention facts).
    """

    problems: NDArray[np.int64]
    logical: NDArray[np.int8]
    energies: NDArray[np.float64]
    physical_energies: NDArray[np.float64]
    chain_break_fraction: NDArray[np.float64]
    weights: NDArray[np.float64] | None = None
    masks: NDArray[np.float64] | None = None

    def best(self) -> NDArray[np.int64]:
        """Index of the lowest-energy sample of each problem ``[B']``."""
        return np.argmin(self.energies, axis=1) if self.energies.shape[1] else np.zeros(0, dtype=np.int64)

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The named arrays :meth:`save` writes."""
        out: dict[str, NDArray[Any]] = {
            "problems": self.problems,
            "logical_samples": self.logical,
            "logical_energies": self.energies,
            "physical_energies": self.physical_energies,
            "chain_break_fraction": self.chain_break_fraction,
            "best": self.best(),
        }
        if self.weights is not None and self.masks is not None:
            out["weights"] = self.weights
            out["masks"] = self.masks
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`arrays` to ``path`` (an uncompressed ``.npz``, atomically); returns the path."""
        buf = io.BytesIO()
        np.savez(buf, **self.arrays())  # type: ignore[arg-type]
        atomic_write_bytes(path, buf.getvalue())
        return Path(path)


def infer_vartype(values: NDArray[Any], stated: str | None, *, where: str) -> Vartype:
    """``"SPIN"`` or ``"BINARY"`` of sample ``values``: checked against ``stated``, else inferred strictly.

    >>> infer_vartype(np.array([[1, -1]]), None, where="x"), infer_vartype(np.array([[0, 1]]), None, where="x")
    ('SPIN', 'BINARY')
    """
    seen = np.unique(values)
    spin, binary = bool(np.isin(seen, [-1, 1]).all()), bool(np.isin(seen, [0, 1]).all())
    if stated is not None:
        vt = stated.upper()
        if vt not in ("SPIN", "BINARY"):
            raise InvalidInputError(f"vartype must be SPIN or BINARY, got {stated!r}", fix="pass spin or binary")
        if not (spin if vt == "SPIN" else binary):
            bad = seen[~np.isin(seen, [-1, 1] if vt == "SPIN" else [0, 1])][:5].tolist()
            raise InvalidInputError(
                f"{where}: samples stated {vt} hold the values {bad}",
                fix="pass the vartype the samples are in (--vartype spin for -1/+1, binary for 0/1)",
            )
        return "SPIN" if vt == "SPIN" else "BINARY"
    if spin:
        return "SPIN"
    if binary:
        return "BINARY"
    raise InvalidInputError(
        f"{where}: samples must be spins (-1/+1) or binary (0/1), found the values {seen[:8].tolist()}",
        fix="write samples as -1/+1 or 0/1 (one sample per row, one column per qubit)",
    )


def _match_columns(
    samples: NDArray[Any], labels: NDArray[np.int64], qubits: NDArray[np.int64], where: str
) -> NDArray[Any]:
    """Reorder the last axis of ``samples`` (columns labelled ``labels``) into ``qubits`` order."""
    if labels.size != qubits.size or set(labels.tolist()) != set(qubits.tolist()):
        missing = sorted(set(qubits.tolist()) - set(labels.tolist()))[:5]
        extra = sorted(set(labels.tolist()) - set(qubits.tolist()))[:5]
        raise InvalidInputError(
            f"{where}: the samples' qubits differ from the file's ({labels.size} vs {qubits.size}; "
            f"missing {missing}, unknown {extra})",
            fix="sample the physical problem of this file (its qubits are PhysicalFile.qubits)",
        )
    position = {int(q): i for i, q in enumerate(labels.tolist())}
    order = np.array([position[int(q)] for q in qubits.tolist()], dtype=np.int64)
    return samples[..., order]


def _sampleset(path: str | os.PathLike[str], size: int, qubits: NDArray[np.int64]) -> tuple[NDArray[Any], str]:
    import dimod

    check_declared(path, TEXT_BYTES_PER_BYTE * size, file_size=size, fmt="sampleset", field="(whole file)",
                   what="JSON text")  # fmt: skip
    obj = loads_json(read_text(path, "sampleset", fix=CORRUPT), path=path, fmt="sampleset", max_depth=32)
    if not isinstance(obj, dict) or obj.get("type") != "SampleSet":
        fail(path, "is not a dimod SampleSet serialization (json.dump(sampleset.to_serializable()))",
             fmt="sampleset", fix="write the samples with json.dump(sampleset.to_serializable(), fh)")  # fmt: skip
    rows, cols = obj.get("num_rows"), obj.get("num_variables")
    if not isinstance(rows, int) or not isinstance(cols, int) or not (0 <= rows < 2**40 and 0 <= cols < 2**40):
        fail(path, "num_rows and num_variables must be non-negative integers", fmt="sampleset", field="num_rows")
    check_declared(path, 16 * rows * cols, file_size=size, fmt="sampleset", field="num_rows",
                   what=f"{rows} samples of {cols} variables")  # fmt: skip
    try:
        sampleset = dimod.SampleSet.from_serializable(obj)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        fail(path, f"dimod cannot read the SampleSet ({type(exc).__name__}: {str(exc)[:100]})", fmt="sampleset")
    labels = list(sampleset.variables)
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in labels):
        raise InvalidInputError(
            f"{path}: the SampleSet's variables are not qubit ids (first: {labels[:3]})",
            fix="sample the BQM of the physical file (labelled by hardware qubit)",
        )
    samples = _match_columns(np.asarray(sampleset.record.sample), np.asarray(labels, dtype=np.int64), qubits, str(path))
    return samples, sampleset.vartype.name


def read_samples(
    path: str | os.PathLike[str],
    qubits: NDArray[np.int64],
    *,
    vartype: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[NDArray[np.int8], Vartype]:
    """Samples ``[S, Q]`` (or ``[B, S, Q]``) in ``qubits`` order, and their vartype (module docstring).

    Raises:
        FileFormatError: unreadable or malformed file.
        InvalidInputError: wrong number of columns, other qubits, values that are not spins or bits.
    """
    size = check_size(path, max_bytes)
    suffix = Path(path).suffix.lower()
    q = qubits.size
    stated: str | None = vartype
    if suffix == ".json":
        raw, set_vartype = _sampleset(path, size, qubits)
        if stated is not None and stated.upper() != set_vartype:
            raise InvalidInputError(
                f"{path}: the SampleSet says {set_vartype}, but {stated.upper()} was stated",
                fix="drop --vartype for a SampleSet (it states its own)",
            )
        stated = set_vartype
    elif suffix == ".npz":
        a = read_npz(path, limit=(64 << 20) + 16 * size, max_bytes=max_bytes, fmt="samples")
        if _SAMPLES not in a:
            fail(path, f"lacks the array {_SAMPLES!r} ([S, Q] or [B, S, Q])", fmt="samples", field=_SAMPLES,
                 fix="save the samples with np.savez(path, samples=..., qubits=...)")  # fmt: skip
        raw = a[_SAMPLES]
        if raw.dtype.kind not in "iuf" or raw.ndim not in (2, 3):
            fail(path, f"must be a 2-D or 3-D numeric array, got {raw.dtype} {raw.shape}", fmt="samples",
                 field=_SAMPLES)  # fmt: skip
        if "qubits" in a:
            labels = a["qubits"]
            if labels.dtype.kind not in "iu" or labels.shape != (raw.shape[-1],):
                fail(path, f"must be [{raw.shape[-1]}] integers", fmt="samples", field="qubits")
            raw = _match_columns(raw, labels.astype(np.int64), qubits, str(path))
    elif suffix in (".csv", ".txt"):
        check_declared(path, TEXT_BYTES_PER_BYTE * size, file_size=size, fmt="samples", field="(whole file)",
                       what="CSV text")  # fmt: skip
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                raw = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, dtype=np.float64, ndmin=2)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            fail(path, f"is not a table of numbers ({str(exc)[:100]})", fmt="samples",
                 fix="one sample per line, one column per qubit (in the file's qubit order)")  # fmt: skip
    else:
        raise InvalidInputError(
            f"cannot tell the samples format of {str(path)!r} from its suffix {suffix or '(none)'!r}",
            fix="use .json (dimod SampleSet), .csv or .npz",
        )
    if raw.shape[-1] != q:
        raise InvalidInputError(
            f"{path}: samples have {raw.shape[-1]} columns, the physical problem has {q} qubits",
            fix="one column per qubit, in the file's qubit order (PhysicalFile.qubits; 'qama decode' prints it)",
        )
    if raw.dtype.kind == "f" and (not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw))):
        raise InvalidInputError(f"{path}: samples hold non-integer values", fix="write spins (-1/+1) or bits (0/1)")
    values = raw.astype(np.int64) if raw.dtype.kind == "f" else raw
    vt = infer_vartype(values, stated, where=str(path))
    return values.astype(np.int8), vt


def decode_file(
    physical: str | os.PathLike[str] | PhysicalFile,
    samples: str | os.PathLike[str] | NDArray[Any],
    *,
    vartype: str | None = None,
    problems: list[int] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> DecodedSamples:
    """Decode ``samples`` (a file, or an array in the file's qubit order) through ``physical``.

    Args:
        physical: a physical file written by ``export_compiled`` (or its loaded :class:`PhysicalFile`).
        samples: a SampleSet JSON, CSV or NPZ path (module docstring), or an array ``[S, Q]`` / ``[B, S, Q]``.
        vartype: ``"SPIN"`` or ``"BINARY"``; ``None`` infers it strictly.
        problems: decode only these problems of the batch (a ``[S, Q]`` table is used for each).
    """
    pf = physical if isinstance(physical, PhysicalFile) else read_file(physical, max_bytes=max_bytes)
    if not isinstance(pf, PhysicalFile):
        raise FileFormatError(
            f"{physical}: is not a decodable physical file (it has no compiled record)",
            fix="export the compiled problem with export_compiled / 'qama compile --target T -o FILE'",
            path=str(physical),
        )
    if isinstance(samples, (str, os.PathLike)):
        x, vt = read_samples(samples, pf.qubits, vartype=vartype, max_bytes=max_bytes)
    else:
        x = np.asarray(samples)
        if x.shape[-1] != pf.num_qubits:
            raise InvalidInputError(
                f"samples have {x.shape[-1]} columns, the physical problem has {pf.num_qubits} qubits",
                fix="one column per qubit, in PhysicalFile.qubits order",
            )
        vt = infer_vartype(x, vartype, where="samples")
    idx = np.arange(pf.batch_size) if problems is None else np.asarray(problems, dtype=np.int64)
    if x.ndim == 3 and x.shape[0] != idx.size:
        raise InvalidInputError(
            f"samples hold {x.shape[0]} problems, {idx.size} are decoded",
            fix="pass one [S, Q] table (used for every problem) or one block per decoded problem",
        )
    logical, info = pf.decode(x, vartype=vt, problems=None if problems is None else list(idx))
    spins = x if vt == "SPIN" else 2 * x.astype(np.int8) - 1
    phys = pf.physical.select(idx).energies(np.broadcast_to(spins, (idx.size, *spins.shape[-2:])))
    cbf = np.asarray(info.get("chain_break_fraction", np.zeros(idx.size)), dtype=np.float64)
    weights = masks = None
    if pf.attention is not None:
        from ..core.problem import AttentionProblem

        weights = pf.weights_of(logical)
        masks = AttentionProblem.masks(weights)
    return DecodedSamples(
        problems=idx,
        logical=logical,
        energies=np.asarray(info["logical_energies"], dtype=np.float64),
        physical_energies=phys,
        chain_break_fraction=cbf,
        weights=weights,
        masks=masks,
    )
