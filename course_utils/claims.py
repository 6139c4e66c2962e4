"""Checks that keep a notebook's sentences true to its numbers.

A lecture notebook that writes "the Fourier images reach higher activations" backs the sentence with a
check computed in the same run. The check prints one short line the text can refer to, and raises
:class:`ClaimFailed`, quoting the sentence and the numbers, the moment a change of seed, step count,
model or library makes the sentence false: the build breaks instead of the course.

Example:
    >>> from course_utils import claims
    >>> claims.check(2.47 > 2.16, "the Fourier scheme reaches higher activations", fourier=2.47, pixel=2.16)
    claim holds: the Fourier scheme reaches higher activations (fourier 2.47, pixel 2.16)
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable

from .config import fast_mode

__all__ = ["ClaimFailed", "check", "mode"]

MODES = ("fast", "full")


class ClaimFailed(AssertionError):
    """A sentence of the notebook is contradicted by the numbers of this run."""


def mode() -> str:
    """``"fast"`` in FAST mode (``COURSE_FAST=1``), ``"full"`` otherwise."""
    return "fast" if fast_mode() else "full"


def _format(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # 0-d tensor or array
        value = value.item()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.3g}"
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        items = [_format(v) for v in value]
        return "[" + ", ".join(items[:8]) + (", ..." if len(items) > 8 else "") + "]"
    return str(value)


def _holds(condition) -> bool:
    if hasattr(condition, "numel"):  # a tensor: every element must hold
        return bool(condition.all())
    if hasattr(condition, "all") and hasattr(condition, "shape"):  # a NumPy array
        return bool(condition.all())
    return bool(condition)


def check(condition, sentence: str, *, only: str | Iterable[str] | None = None, **values) -> bool:
    """Check that ``sentence`` (quoted from the notebook's text) holds in this run.

    Args:
        condition: what the sentence says, computed from this run's numbers (a bool, or a tensor or
            array whose every element must be true).
        sentence: the claim in the text's own words, short enough to find in the notebook.
        only: ``"full"`` or ``"fast"`` when the text says the sentence describes one mode only; in the
            other mode the check prints that it was skipped (the text must then name the mode).
        **values: the numbers behind the claim, printed beside it (and in the error).

    Returns:
        True when the claim holds (or is skipped in this mode).

    Raises:
        ClaimFailed: naming the sentence and the numbers when the claim does not hold.
    """
    shown = ", ".join(f"{name.replace('_', ' ')} {_format(value)}" for name, value in values.items())
    shown = f" ({shown})" if shown else ""
    if only is not None:
        wanted = {only} if isinstance(only, str) else set(only)
        unknown = wanted - set(MODES)
        if unknown:
            raise ValueError(f"only= takes {' or '.join(map(repr, MODES))}; got {sorted(unknown)}")
        if mode() not in wanted:
            print(f"claim not checked in {mode()} mode (the text describes {'/'.join(sorted(wanted))} mode): "
                  f"{sentence}{shown}")
            return True
    if not _holds(condition):
        raise ClaimFailed(
            f'the notebook says "{sentence}", but this run ({mode()} mode) does not show it{shown}. '
            "Change the experiment so that it shows the point, or the sentence to what the run shows."
        )
    print(f"claim holds: {sentence}{shown}")
    return True
