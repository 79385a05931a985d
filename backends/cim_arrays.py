"""Where the CIM emulator's arrays live: numpy on the CPU, or torch on a CUDA device.

The integrator (:mod:`qama_backends.cim_dynamics`) is written once against :class:`ArrayOps`,
a handful of in-place primitives that numpy and torch both provide. On a CPU numpy is used:
for the skinny products of the dynamics (``[R, V] x [V, V]`` with a few replicas) OpenBLAS is
as fast as torch and numpy's per-call overhead is lower. On a machine with a CUDA device and
torch installed, ``device="auto"`` moves the dynamics there without any change to user code.

Discovery is done once per process and cached (:func:`cuda_available`,
:func:`thread_limiter`), so a call on a small problem costs microseconds, not the
milliseconds of importing torch or scanning the loaded BLAS libraries.

>>> ops = resolve_ops("cpu")
>>> ops.name, ops.device
('numpy', 'cpu')
>>> x = ops.asarray(np.array([[-0.5, 0.0, 2.0]]))
>>> ops.to_numpy(ops.sign_into(x, ops.empty_like(x))).tolist()
[[-1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qama_compile.errors import InvalidInputError, MissingDependencyError

__all__ = ["ArrayOps", "NumpyOps", "TorchOps", "cuda_available", "limit_threads", "resolve_ops"]


# ---------------------------------------------------------------------------- discovery (cached)
def _nvidia_present() -> bool:
    """A cheap probe for an NVIDIA driver, so CPU-only machines never import torch for nothing."""
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")


@functools.cache
def cuda_available() -> bool:
    """``True`` when torch is installed and sees a CUDA device (probed once per process)."""
    if "torch" not in sys.modules and not _nvidia_present():
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


@functools.cache
def _thread_controller() -> Any:
    """One ``threadpoolctl.ThreadpoolController`` per process (scanning the libraries costs ~7 ms)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with the scipy stack
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def limit_threads(num_threads: int | None, *, torch_used: bool = False) -> Iterator[None]:
    """Limit BLAS (and torch) threads to ``num_threads`` for the block; ``None`` changes nothing.

    Cheap when the limit is already in force: the BLAS pools are only touched when one of
    them runs more threads than asked for.
    """
    if num_threads is None:
        yield
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise InvalidInputError(
            f"num_threads must be a positive integer, got {num_threads!r}", fix="pass num_threads >= 1"
        )
    n = int(num_threads)
    with contextlib.ExitStack() as stack:
        controller = _thread_controller()
        if controller is not None and any(lib.num_threads > n for lib in controller.lib_controllers):
            stack.enter_context(controller.limit(limits=n))
        if torch_used:
            import torch

            before = torch.get_num_threads()
            if before != n:
                torch.set_num_threads(n)
                stack.callback(torch.set_num_threads, before)
        yield


# ---------------------------------------------------------------------------- array primitives
class ArrayOps:
    """The primitives the integrator needs; all ``*_into`` functions write into ``out``."""

    name = "abstract"
    device = "cpu"
    float32: Any = np.float32

    def asarray(self, a: NDArray[Any]) -> Any:
        raise NotImplementedError

    def to_numpy(self, a: Any) -> NDArray[Any]:
        raise NotImplementedError

    def empty(self, shape: tuple[int, ...]) -> Any:
        raise NotImplementedError

    def full(self, shape: tuple[int, ...], value: float) -> Any:
        raise NotImplementedError

    def empty_like(self, a: Any) -> Any:
        raise NotImplementedError

    def normal(self, rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> Any:
        """Gaussian numbers drawn with numpy's generator (so every device gives the same run)."""
        return self.asarray(rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))

    def clip_(self, a: Any, lo: float, hi: float) -> Any:
        raise NotImplementedError

    def sign_into(self, a: Any, out: Any) -> Any:
        """``sign(a)`` as float32 +-1 (the sign bit decides: ``+0.0 -> +1``, ``-0.0 -> -1``)."""
        raise NotImplementedError

    def rowdot_into(self, a: Any, b: Any, out: Any) -> Any:
        """``out[b, r] = sum_v a[b, r, v] * b[b, r, v]``."""
        raise NotImplementedError

    def abs_into(self, a: Any, out: Any) -> Any:
        raise NotImplementedError

    def mul_into(self, a: Any, b: Any, out: Any) -> Any:
        raise NotImplementedError

    def copy_where(self, dst: Any, src: Any, mask: Any) -> None:
        """``dst[mask] = src[mask]`` for a mask ``[B, R]`` over ``[B, R, V]`` arrays."""
        raise NotImplementedError

    def less(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def less_into(self, a: Any, b: Any, out: Any) -> Any:
        raise NotImplementedError

    def any(self, a: Any) -> bool:
        raise NotImplementedError


class NumpyOps(ArrayOps):
    """numpy (and scipy.sparse) on the CPU."""

    name = "numpy"

    def asarray(self, a: NDArray[Any]) -> Any:
        return np.ascontiguousarray(a)

    def to_numpy(self, a: Any) -> NDArray[Any]:
        return np.asarray(a)

    def empty(self, shape: tuple[int, ...]) -> Any:
        return np.empty(shape, dtype=np.float32)

    def full(self, shape: tuple[int, ...], value: float) -> Any:
        return np.full(shape, value, dtype=np.float32)

    def empty_like(self, a: Any) -> Any:
        return np.empty_like(a)

    def clip_(self, a: Any, lo: float, hi: float) -> Any:
        return np.clip(a, lo, hi, out=a)  # one pass (minimum + maximum: two, and slower each)

    def sign_into(self, a: Any, out: Any) -> Any:
        return np.copysign(np.float32(1.0), a, out=out)  # +-1; +0.0 -> +1

    def rowdot_into(self, a: Any, b: Any, out: Any) -> Any:
        np.einsum("brv,brv->br", a, b, out=out)
        return out

    def abs_into(self, a: Any, out: Any) -> Any:
        return np.abs(a, out=out)

    def mul_into(self, a: Any, b: Any, out: Any) -> Any:
        return np.multiply(a, b, out=out)

    def copy_where(self, dst: Any, src: Any, mask: Any) -> None:
        dst[mask] = src[mask]

    def less(self, a: Any, b: Any) -> Any:
        return np.less(a, b)

    def less_into(self, a: Any, b: Any, out: Any) -> Any:
        return np.less(a, b, out=out)

    def any(self, a: Any) -> bool:
        return bool(a.any())


class TorchOps(ArrayOps):
    """torch tensors on ``device`` (a CUDA device, or the CPU for testing)."""

    name = "torch"

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = str(torch.device(device))
        self.float32 = torch.float32
        self._one = torch.ones((), dtype=torch.float32, device=self.device)

    def asarray(self, a: NDArray[Any]) -> Any:
        return self.torch.as_tensor(np.ascontiguousarray(a), device=self.device)

    def to_numpy(self, a: Any) -> NDArray[Any]:
        return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)  # type: ignore[no-any-return]

    def empty(self, shape: tuple[int, ...]) -> Any:
        return self.torch.empty(shape, dtype=self.torch.float32, device=self.device)

    def full(self, shape: tuple[int, ...], value: float) -> Any:
        return self.torch.full(shape, float(value), dtype=self.torch.float32, device=self.device)

    def empty_like(self, a: Any) -> Any:
        return self.torch.empty_like(a)

    def clip_(self, a: Any, lo: float, hi: float) -> Any:
        return a.clamp_(min=lo, max=hi)

    def sign_into(self, a: Any, out: Any) -> Any:
        return self.torch.copysign(self._one, a, out=out)  # +-1; +0.0 -> +1

    def rowdot_into(self, a: Any, b: Any, out: Any) -> Any:
        self.torch.sum(a * b, dim=-1, out=out)
        return out

    def abs_into(self, a: Any, out: Any) -> Any:
        return self.torch.abs(a, out=out)

    def mul_into(self, a: Any, b: Any, out: Any) -> Any:
        return self.torch.mul(a, b, out=out)

    def copy_where(self, dst: Any, src: Any, mask: Any) -> None:
        dst[mask] = src[mask]

    def less(self, a: Any, b: Any) -> Any:
        return a < b

    def less_into(self, a: Any, b: Any, out: Any) -> Any:
        return self.torch.lt(a, b, out=out)

    def any(self, a: Any) -> bool:
        return bool(a.any())


_NUMPY = NumpyOps()


def resolve_ops(device: str | None = "auto", *, use_torch: bool | str | None = "auto") -> ArrayOps:
    """The array library and device for a run.

    Args:
        device: ``"auto"``/``None`` (a CUDA device when torch sees one, else the CPU),
            ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        use_torch: ``"auto"`` (torch exactly when the device is a CUDA device), ``True``
            (torch even on the CPU) or ``False`` (numpy; the device must be the CPU).
    """
    if use_torch not in (None, "auto", True, False):
        raise InvalidInputError(
            f"use_torch must be True, False or 'auto', got {use_torch!r}", fix="pass a bool or 'auto'"
        )
    if device is None or device == "auto":
        dev = "cuda" if use_torch is not False and cuda_available() else "cpu"
    elif isinstance(device, str) and (device == "cpu" or device.startswith("cuda")):
        dev = device
    else:
        raise InvalidInputError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}", fix="pass device='auto'"
        )
    torch_wanted = use_torch is True or dev != "cpu"
    if not torch_wanted:
        return _NUMPY
    if use_torch is False:
        raise InvalidInputError(f"device={dev!r} needs torch, but use_torch=False", fix="drop use_torch=False")
    if importlib.util.find_spec("torch") is None:
        raise MissingDependencyError(
            f"the CIM emulator on device {dev!r} needs PyTorch",
            fix="pip install 'qama-compile[torch]', or pass device='cpu' and use_torch=False",
            package="torch",
        )
    if dev != "cpu" and not cuda_available():
        raise InvalidInputError(f"device {dev!r} requested but torch sees no CUDA device", fix="pass device='auto'")
    return _torch_ops(dev)


@functools.cache
def _torch_ops(device: str) -> TorchOps:
    return TorchOps(device)
