"""The memory limit that ``dense()`` respects, checked before anything is allocated."""

from __future__ import annotations

from ..errors import MemoryLimitError, TensorcalcError
from .render import percent

_dense_limit = [1 << 30]


def set_dense_limit(nbytes: int) -> int:
    """Set the largest tensor, in bytes, that ``dense()`` may build; return the old limit."""
    try:
        ok = int(nbytes) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TensorcalcError(f"the dense limit must be a positive number of bytes, got "
                              f"{nbytes!r}.")
    old, _dense_limit[0] = _dense_limit[0], int(nbytes)
    return old


def get_dense_limit() -> int:
    """The largest tensor, in bytes, that ``dense()`` builds (default 1 GiB)."""
    return _dense_limit[0]


def check_dense_size(d, max_bytes: int | None = None) -> None:
    """Raise :class:`MemoryLimitError` if the dense tensor of ``d`` is above the limit."""
    limit = get_dense_limit() if max_bytes is None else int(max_bytes)
    if d.nbytes_dense > limit:
        raise MemoryLimitError(
            f"dense() of the {d.kind} {d.name} with shape {d.shape} needs "
            f"{d.nbytes_dense:,} bytes, above the limit of {limit:,} bytes "
            f"({percent(d.structural_zero_fraction)} of it would be structural zeros). Contract "
            f"it first (chain it with a gradient, or use .compact), or raise the limit with "
            f"tc.set_dense_limit(nbytes)."
        )
