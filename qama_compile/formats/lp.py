"""``lp``: one problem in CPLEX LP format, written and read by ``dimod.lp`` (exact).

Writing goes ``IR -> dimod BQM (BINARY) -> dimod.lp.dump``; variables are named
``x_<head>_<token>_<bit>`` (physical files: ``q_<qubit>``) so labels survive. Our header travels
in ``\\`` comments::

    \\ format: qama-compile/lp
    \\ version: 1
    \\ label_fields: head token bit
    \\ batch_index: 0
    Minimize
     obj: - 0.5177889039076213 x_0_0_0 ... + [ - 0.3076150752344163 x_0_0_1 * x_0_0_0 ... ]/2
     + 0.25
    ...

Coefficients are written in shortest round-trip form, so energies survive bit-exactly. A
physical file (:func:`write_physical`) adds a ``\\ header: {...}`` line of JSON with the target
and the compiled record (:mod:`qama_compile.formats.physical_file`); its variables are
``x = (s + 1) / 2`` of the physical spins.

Reading hands the text to ``dimod.lp.load`` only after a built-in, linear-time pre-check of the
unconstrained binary LP subset (objective, ``[ ... ]/2`` quadratic block, constant, Bounds,
Binaries; token lengths and counts checked against the loader's memory limit), so hostile
input is refused before it reaches the native parser.

>>> import tempfile, pathlib
>>> from qama_compile.ir import QuadraticIR
>>> ir = QuadraticIR.from_coo(linear=[[1.0, -2.0]], rows=[0], cols=[1], data=[[0.1]], offset=[0.25])
>>> path = pathlib.Path(tempfile.mkdtemp()) / "p.lp"
>>> write(ir, path, 0)
>>> read(path).energies([[1, 1], [0, 1]]).tolist() == ir.energies([[1, 1], [0, 1]]).tolist()
True
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..base.atomic import atomic_write_text
from ..base.safeload import loads_json
from ..core.ir import QuadraticIR
from ..errors import InvalidInputError
from ._base import (
    CORRUPT,
    DEFAULT_MAX_BYTES,
    PREFIX,
    VERSION,
    build_ir,
    check_declared,
    check_size,
    check_version,
    fail,
    read_text,
)
from .physical_file import PhysicalFile, open_physical

NAME = "lp"
_add = getattr(np, "strings", np.char).add
_FIX = CORRUPT
#: CPLEX's limit on the length of a name; longer tokens are refused.
MAX_TOKEN = 255
#: Parsing bytes per whitespace token beyond its text (the token list, flags, indices).
BYTES_PER_TOKEN = 160
#: Fixed-width copies of the widest token held at once per token (the token array, the
#: variable columns gathered from it and their temporaries: 1.86x measured on a fuzzed file).
TOKEN_COPIES = 2
_KEYWORDS = r"subject[ \t]+to|such[ \t]+that|st|s\.t\.|bounds?|binar(?:y|ies)|bin|generals?|gen|semi-continuous|sos|end"
# [ \t]*+ (possessive) and no \s: a keyword line is matched in time linear in its length
_SECTION = re.compile(rf"^[ \t]*+({_KEYWORDS})[ \t]*+\r?$", re.IGNORECASE | re.MULTILINE)
_SENSE = re.compile(r"^[ \t]*+(minimi[sz]e|maximi[sz]e|min|max)[ \t]*+\r?$", re.IGNORECASE | re.MULTILINE)
_COMMENT = re.compile(r"\\[^\n]*")
_LABEL = re.compile(r"[ \t\r\n]*+[^\s:\[\]+\-*^/]{1,255}[ \t]*+:")


def _names(labels: NDArray[np.int64], prefix: str) -> list[str]:
    """``<prefix>_<a>_<b>...`` for each label row (vectorised)."""
    out = np.full(labels.shape[0], prefix)
    for col in labels.T.astype(str):  # label fields (1..3)
        out = _add(_add(out, "_"), col)
    return out.tolist()


def _lp_text(ir: QuadraticIR, index: int, prefix: str) -> str:
    """Problem ``index`` of ``ir`` as a QUBO in LP text, by ``dimod.lp``."""
    import dimod
    import dimod.lp

    binary = ir.to_binary()
    rows, cols, data = binary.coo(index)
    names = _names(binary.labels, prefix)
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
        binary.linear[index], (rows, cols, data), float(binary.offset[index]), dimod.BINARY, variable_order=names
    )
    text = dimod.lp.dumps(dimod.ConstrainedQuadraticModel.from_bqm(bqm))
    if not _SENSE.search(text):  # dimod leaves out the objective section when it is zero
        text = "Minimize\n obj: \n" + text.lstrip("\n")
    return text


def write(ir: QuadraticIR, path: str | os.PathLike[str], index: int) -> None:
    """Write problem ``index`` of ``ir`` (as a QUBO) to ``path`` atomically."""
    header = (
        f"\\ format: {PREFIX}{NAME}\n\\ version: {VERSION}\n"
        f"\\ label_fields: {' '.join(ir.label_fields)}\n\\ batch_index: {index}\n"
    )
    atomic_write_text(path, header + _lp_text(ir, index, "x"))


def write_physical(ir: QuadraticIR, path: str | os.PathLike[str], *, head: dict[str, Any], record: Any = None) -> None:
    """Write the one SPIN physical problem of ``ir`` (variables ``q_<qubit>``, ``x = (s + 1) / 2``)."""
    if ir.batch_size != 1:
        raise InvalidInputError(
            f"LP holds one problem; this batch has {ir.batch_size}",
            fix="export one problem: CompiledProblem.select([i]) / --index, or use bqm-json / ising-npz",
        )
    header = {**head, "kind": "physical", "variables": "x = (s + 1) / 2 of the physical spins", "compiled": record}
    text = (
        f"\\ format: {PREFIX}{NAME}\n\\ version: {VERSION}\n\\ label_fields: qubit\n\\ batch_index: 0\n"
        f"\\ header: {json.dumps(header, allow_nan=False)}\n"
    )
    atomic_write_text(path, text + _lp_text(ir, 0, "q"))


def _header(text: str) -> dict[str, str]:
    """``key: value`` pairs of the leading ``\\`` comment lines (at most 64 lines looked at)."""
    header: dict[str, str] = {}
    pos = 0
    for _ in range(64):  # leading comment lines only
        end = text.find("\n", pos)
        line = text[pos : end if end >= 0 else len(text)]
        if not line.startswith("\\"):
            break
        key, sep, value = line[1:].strip().partition(":")
        if sep:
            header[key.strip()] = value.strip()
        if end < 0:
            break
        pos = end + 1
    return header


def _quadratic_block(path: str | os.PathLike[str], objective: str) -> tuple[str, str, float]:
    """Split off the one ``[ ... ]`` (optionally ``/2``) block: ``(objective rest, block, scale)``.

    Found with ``str.find`` (linear time; nested or repeated brackets are refused).
    """
    start = objective.find("[")
    if start < 0:
        if "]" in objective:
            fail(path, "has a ']' without '['", fmt=NAME, field="objective")
        return objective, "", 1.0
    end = objective.find("]", start)
    if end < 0:
        fail(path, "has an unclosed '[' in the objective", fmt=NAME, field="objective")
    inner = objective[start + 1 : end]
    if "[" in inner or "[" in objective[end + 1 :] or "]" in objective[end + 1 :] or "]" in objective[:start]:
        fail(
            path, "has nested or several '[ ... ]' blocks; one quadratic block is expected", fmt=NAME, field="objective"
        )
    before = objective[:start].rstrip()
    sign = -1.0 if before.endswith("-") else 1.0
    if before.endswith(("+", "-")):
        before = before[:-1]
    after = objective[end + 1 :]
    stripped = after.lstrip()
    scale = 1.0
    if stripped.startswith("/"):
        rest = stripped[1:].lstrip()
        if not (rest.startswith("2") and (len(rest) == 1 or rest[1].isspace() or rest[1] in "+-")):
            fail(path, "has a quadratic block divided by something other than 2", fmt=NAME, field="objective")
        scale, after = 0.5, rest[1:]
    return before + " " + after, inner, sign * scale


def _check_tokens(path: str | os.PathLike[str], tokens: list[str], size: int, what: str) -> None:
    """Refuse over-long tokens, and token arrays that would need more than the loader may use."""
    if not tokens:
        return
    width = max(map(len, tokens))
    if width > MAX_TOKEN:
        fail(path, f"has a {what} token of {width} characters (the LP limit is {MAX_TOKEN})", fmt=NAME, field=what)
    check_declared(
        path,
        len(tokens) * (4 * width * TOKEN_COPIES + BYTES_PER_TOKEN),
        file_size=size,
        fmt=NAME,
        field=what,
        what=f"{len(tokens)} tokens of up to {width} characters",
    )


#: Characters no LP text holds (tab, newline and carriage return are allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_lp(path: str | os.PathLike[str], text: str, *, size: int | None = None) -> dict[str, Any]:
    """Parse the unconstrained binary LP subset into names, linear, quadratic COO and constant (linear time)."""
    size = len(text) if size is None else size
    control = _CONTROL.search(text)
    if control:  # dimod.lp.load loops forever on a NUL byte
        fail(path, f"holds the control character {control.group()!r} at offset {control.start()}", fmt=NAME)
    body = _COMMENT.sub("", text)
    sense = _SENSE.search(body)
    if not sense:
        fail(path, "has no Minimize/Maximize section", fmt=NAME)
    if body[: sense.start()].strip():  # dimod.lp.load hangs on some text before the objective
        fail(path, "has text before the Minimize/Maximize line", fmt=NAME, field="objective")
    rest = body[sense.end() :]
    sections = [(m.group(1).lower(), m.start(), m.end()) for m in _SECTION.finditer(rest)]
    if not sections or sections[-1][0] != "end":
        fail(path, "has no 'End' line", fmt=NAME)
    if rest[sections[-1][2] :].strip():
        fail(path, "has text after the 'End' line", fmt=NAME)
    objective = rest[: sections[0][1]]
    named: dict[str, str] = {}
    for (name, _, end), nxt in zip(sections, [*sections[1:], ("", len(rest), len(rest))], strict=True):
        key = name.split()[0]
        named[key] = named.get(key, "") + " " + rest[end : nxt[1]]
    constraints = "".join(named.get(k, "") for k in ("subject", "st", "s.t.", "such"))
    if constraints.strip() or any(
        named.get(k, "").strip() for k in ("generals", "general", "gen", "semi-continuous", "sos")
    ):
        fail(
            path,
            "has constraints or non-binary variables; only unconstrained binary problems map to the IR",
            fix="convert constraints to penalties (qiskit_optimization.converters.QuadraticProgramToQubo)",
            fmt=NAME,
        )
    binaries = " ".join(v for k, v in named.items() if k.startswith("bin"))
    names = binaries.split()
    _check_tokens(path, names, size, "Binaries")
    if len(set(names)) != len(names):
        fail(path, "lists a variable twice under Binaries", fmt=NAME, field="Binaries")
    label = _LABEL.match(objective)
    if label:  # drop the 'obj:' label
        objective = objective[label.end() :]
    objective, block, block_scale = _quadratic_block(path, objective)
    quad = _terms(path, block, quadratic=True, size=size) if block.strip() else _Terms.empty()
    lin = _terms(path, objective, quadratic=False, size=size)
    known = np.array(names, dtype=str)
    order = np.argsort(known)
    sorted_known = known[order]

    def index(found: NDArray[np.str_]) -> NDArray[np.int64]:
        if found.size == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.clip(np.searchsorted(sorted_known, found), 0, max(known.size - 1, 0))
        bad = np.ones(found.size, dtype=bool) if known.size == 0 else sorted_known[pos] != found
        if bad.any():
            fail(
                path,
                f"uses variables not declared binary: {[n[:40] for n in sorted(set(found[bad].tolist()))[:5]]}",
                fix="declare every variable under Binaries",
                fmt=NAME,
            )
        return order[pos].astype(np.int64)

    return {
        "names": names,
        "maximize": sense.group(1).lower().startswith("max"),
        "lin_index": index(lin.a),
        "lin_coef": lin.coef,
        "rows": index(quad.a),
        "cols": index(quad.b),
        "data": quad.coef * block_scale,
        "constant": lin.constant,
    }


@dataclass(frozen=True)
class _Terms:
    a: NDArray[np.str_]  # first variable of each term
    b: NDArray[np.str_]  # second variable (quadratic terms)
    coef: NDArray[np.float64]
    constant: float

    @staticmethod
    def empty() -> _Terms:
        none = np.zeros(0, dtype=str)
        return _Terms(none, none, np.zeros(0), 0.0)


def _terms(path: str | os.PathLike[str], text: str, *, quadratic: bool, size: int) -> _Terms:
    """Vectorised parse of ``[sign] [coef] var [* var | ^ 2]`` terms (and constants) from whitespace tokens."""
    words = text.replace("*", " * ").replace("^", " ^ ").split()
    _check_tokens(path, words, size, "quadratic block" if quadratic else "objective")
    tok = np.array(words, dtype=str)
    del words
    if tok.size == 0:
        return _Terms.empty()
    first = tok.astype("U1")
    is_sign = (tok == "+") | (tok == "-")
    is_num = np.isin(first, list("0123456789.")) | (np.isin(first, ["+", "-"]) & ~is_sign)
    is_var = np.char.isalpha(first) | (first == "_")
    n = tok.size

    def before(pos: NDArray[np.int64], mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
        ok = pos >= 0
        out = np.zeros(pos.size, dtype=bool)
        out[ok] = mask[pos[ok]]
        return out

    if quadratic:
        op = np.nonzero((tok == "*") | (tok == "^"))[0]
        if op.size and (op[0] == 0 or op[-1] == n - 1):
            fail(path, "has a dangling '*' or '^' in the quadratic block", fix=_FIX, fmt=NAME)
        square = tok[op] == "^"
        if not (
            is_var[op - 1].all()
            and np.where(square, tok[np.minimum(op + 1, n - 1)] == "2", is_var[np.minimum(op + 1, n - 1)]).all()
        ):
            fail(path, "has a malformed quadratic term", fix=_FIX, fmt=NAME)
        head = op - 1
        a, b = tok[op - 1], np.where(square, tok[op - 1], tok[np.minimum(op + 1, n - 1)])
        used = 3 * op.size
    else:
        head = np.nonzero(is_var)[0]
        a = b = tok[head]
        used = head.size
    has_num = before(head - 1, is_num)
    sign_pos = head - 1 - has_num
    has_sign = before(sign_pos, is_sign)
    coef = np.ones(head.size)
    if has_num.any():
        coef[has_num] = _floats(path, tok[head[has_num] - 1])
    neg = has_sign & (tok[np.maximum(sign_pos, 0)] == "-")
    coef = np.where(neg, -coef, coef)
    constant = 0.0
    n_const = 0
    if not quadratic:  # numbers not followed by a variable are constants
        nxt_var = np.zeros(n, dtype=bool)
        nxt_var[:-1] = is_var[1:]
        const_pos = np.nonzero(is_num & ~nxt_var)[0]
        c_sign = before(const_pos - 1, is_sign)
        values = _floats(path, tok[const_pos])
        neg_c = c_sign & (tok[np.maximum(const_pos - 1, 0)] == "-")
        constant = float(np.where(neg_c, -values, values).sum())
        n_const = int(const_pos.size + c_sign.sum())
    if used + int(has_num.sum()) + int(has_sign.sum()) + n_const != n:
        fail(path, f"has an unparsable {'quadratic block' if quadratic else 'objective'}", fix=_FIX, fmt=NAME)
    return _Terms(a, b, coef, constant)


def _floats(path: str | os.PathLike[str], text: NDArray[np.str_]) -> NDArray[np.float64]:
    """Number tokens as finite floats."""
    try:
        out = text.astype(np.float64)
    except (ValueError, OverflowError):
        fail(path, "has a malformed number", fmt=NAME, field="objective")
    if not np.all(np.isfinite(out)):
        fail(path, "has an infinite or NaN coefficient", fmt=NAME, field="objective")
    return out


def _labels(names: list[str], fields: tuple[str, ...]) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """``x_<h>_<t>_<b>`` names -> integer labels of ``fields``; any other naming -> 0..V-1 (``index``)."""
    k = len(fields)
    if names and 1 <= k <= 8:
        pattern = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,15}" + r"_(-?[0-9]{1,17})" * k + r"$", re.MULTILINE | re.ASCII)
        found = pattern.findall("\n".join(names))  # one C-level scan over every name
        if len(found) == len(names):
            return np.array(found, dtype=np.int64).reshape(len(names), k), fields
    return np.arange(len(names), dtype=np.int64).reshape(-1, 1), ("index",)


def _dimod_load(path: str | os.PathLike[str], text: str, names: list[str]) -> tuple[Any, Any, float]:
    """``(linear, (rows, cols, data), offset)`` of the LP text by ``dimod.lp`` (minimised), in ``names`` order."""
    import dimod
    import dimod.lp

    try:
        cqm = dimod.lp.loads(text)
        if cqm.constraints:
            fail(path, "has constraints; only unconstrained binary problems map to the IR", fmt=NAME)
        bqm, _ = dimod.cqm_to_bqm(cqm)
        for name in names:  # Binaries never used in the objective
            bqm.add_variable(name)
        lin, quad, offset = bqm.to_numpy_vectors(variable_order=names)[:3]
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:
        fail(path, f"dimod.lp cannot read it ({type(exc).__name__}: {str(exc)[:100]})", fmt=NAME)
    return lin, quad, float(offset)


def read(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> QuadraticIR | PhysicalFile:
    """Read an LP file (ours or any unconstrained binary LP) as a one-problem BINARY IR.

    A physical file of :func:`write_physical` gives its SPIN problem (a :class:`PhysicalFile`
    when it carries the compiled record). The text passes the linear-time pre-check
    (:func:`parse_lp`) before ``dimod.lp`` reads it.
    """
    size = check_size(path, max_bytes)
    text = read_text(path, NAME, fix=_FIX)
    header = _header(text)
    if "format" in header:
        check_version(path, NAME, header.get("format"), header.get("version"))
    fields = tuple(header.get("label_fields", "").split()) or ("head", "token", "bit")
    parsed = parse_lp(path, text, size=size)  # the pre-check: structure, sizes, finite numbers
    names = parsed["names"]
    del parsed
    lin, (rows, cols, data), offset = _dimod_load(path, text, names)
    del text
    labels, fields = _labels(names, fields)
    ir = build_ir(
        path,
        NAME,
        linear=np.asarray(lin, dtype=np.float64)[None],
        rows=np.asarray(rows, dtype=np.int64),
        cols=np.asarray(cols, dtype=np.int64),
        data=np.asarray(data, dtype=np.float64)[None],
        offset=[offset],
        vartype="BINARY",
        labels=labels,
        label_fields=fields,
    )
    if "header" not in header:
        return ir
    head = loads_json(header["header"], path=path, fmt=NAME, field="header", max_depth=64)
    if not isinstance(head, dict) or fields != ("qubit",):
        fail(path, "a physical LP needs a JSON header and variables named q_<qubit>", fmt=NAME, field="header")
    spin = ir.to_spin()
    return open_physical(path, spin, head.get("compiled"), fmt=NAME)
