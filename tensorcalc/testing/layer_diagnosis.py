"""Diagnoses and warnings for a student's layer backward: a wrong shape, an assignment where
contributions must accumulate, a biased/unbiased variance mix-up, the derivative at a kink, a
keep probability where a drop probability is expected, a backward that writes into its
arguments, an exception in the student's code, and a check that could not fail."""

from __future__ import annotations

import itertools
import os
import traceback

import numpy as np

from ..layers import Dropout, MaxPool
from .reference import as_layers, reference, term_vjps, to_numpy

_LIBRARY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    numeric = got.dtype.kind in "biuf" and want.dtype.kind in "biuf"
    return numeric and got.shape == want.shape and bool(np.allclose(
        got, want, rtol=1e-6, atol=1e-9 * float(np.abs(want).max(initial=0.0))))


def _transposed(got: np.ndarray, want: np.ndarray) -> tuple[tuple[int, ...], bool] | None:
    """The axis order that gives ``got`` the shape of ``want`` (not the identity), and whether
    the values then agree; None when no reordering of the axes fits."""
    if got.ndim < 2 or got.ndim > 4 or sorted(got.shape) != sorted(want.shape):
        return None
    fits = [p for p in itertools.permutations(range(got.ndim))
            if p != tuple(range(got.ndim)) and got.transpose(p).shape == want.shape]
    for p in fits:
        if _close(got.transpose(p), want):
            return p, True
    return (fits[0], False) if fits else None


def shape_problem(name: str, got: np.ndarray, want: np.ndarray) -> str:
    """A gradient whose shape is not its input's: both shapes named, never broadcast; one that
    is the expected gradient transposed is told so (a reshape would scramble it)."""
    hint = ""
    order = _transposed(got, want)
    fix = "" if not order else f"d{name}.T" if got.ndim == 2 else f"d{name}.transpose{order[0]}"
    if order and order[1]:
        product = (" (x.T @ dout, where dout.T @ x gives the transpose)" if got.ndim == 2
                   else "")
        hint = (f" It is the expected d{name} transposed: return {fix}, or build it the other "
                f"way round{product}.")
    elif int(np.prod(got.shape)) == 0 and int(np.prod(want.shape)):
        hint = (" It is empty: a slice such as [pad:-pad] with pad = 0 takes nothing (use "
                "[pad:pad + H] or [pad:H + pad]).")
    elif got.size == want.size and (not order or _close(got.reshape(want.shape), want)):
        shaped = ".reshape(" + ", ".join(map(str, want.shape)) + ")" if want.shape else "a scalar"
        hint = (f" It has the right number of entries: return it shaped like {name} "
                f"({shaped}).")
    elif order:
        hint = (f" Its shape is {name}'s transposed: {fix} has the right shape (a reshape "
                f"would scramble the entries), but its values are wrong too.")
    return f"d{name} has shape {got.shape}; your input {name} has shape {want.shape}.{hint}"


def accumulate_line(name: str, wrong: np.ndarray, counts: np.ndarray | None) -> str | None:
    """When ``counts`` (the gradient of the summed output) says the layer routes its input
    (non-negative whole numbers) and every wrong entry is one that gets two or more
    contributions (overlapping pooling windows, repeated indices)."""
    if counts is None or counts.shape != wrong.shape or not np.any(wrong):
        return None
    whole = np.allclose(counts, np.round(counts), atol=1e-6) and np.all(counts > -1e-9)
    if whole and np.all(counts[wrong] >= 2 - 1e-6):
        return (f"d{name} is wrong only where an entry gets two or more contributions "
                f"({int(np.sum(wrong))} of {int(np.sum(counts >= 2 - 1e-6))} such entries: "
                f"overlapping pooling windows, repeated indices): assigned where it must "
                f"accumulate: use += (or np.add.at for indexed updates)")
    return None


def kink_line(name: str, wrong: np.ndarray, x: np.ndarray) -> str | None:
    if x.shape == wrong.shape and np.any(wrong) and np.all(x[wrong] == 0):
        return (f"d{name} differs only where {name} is exactly 0 ({int(np.sum(wrong))} "
                f"entries): the derivative at the kink; relu'(0) = 0 by convention (torch's "
                f"too), does yours use 1 (x >= 0 where x > 0 is meant)?")
    return None


def dropout_line(reference_layers, x: np.ndarray, out: np.ndarray) -> str | None:
    """With a dropout reference: kept entries scaled by 1/p means p was taken as the keep
    probability; kept entries not scaled at all, that the 1/(1-p) was left out."""
    layers = as_layers(reference_layers)
    if len(layers) != 1 or not isinstance(layers[0], Dropout) or out.shape != x.shape:
        return None
    p = layers[0].p
    kept = (out != 0) & (x != 0)
    if not np.any(kept):
        return None
    scale = float(np.median(out[kept] / x[kept]))
    if np.isclose(scale, 1.0 / p, rtol=1e-6) and not np.isclose(p, 0.5):
        return (f"your kept entries are scaled by {scale:.6g} = 1/p: your p is the keep "
                f"probability; torch's (and tc.Dropout's) p is the drop probability, so kept "
                f"entries are scaled by 1/(1-p) = {1 / (1 - p):.6g}; call it with 1 - p")
    if np.isclose(scale, 1.0, rtol=1e-6) and 0 < p < 1:
        return (f"your kept entries are not scaled: inverted dropout (as torch's and "
                f"tc.Dropout's) multiplies them by 1/(1-p) = {1 / (1 - p):.6g} in the forward "
                f"pass (and the backward by the same), so that the expected output is x")
    return None


def _times(k: float, n: int) -> str:
    for value, text in ((0.0, "it is left out"), (-1.0, "its sign is flipped"),
                        (n / (n - 1) if n > 1 else None,
                         "N/(N-1): the variance taken with 1/(N-1) (unbiased) where 1/N "
                         "(biased) is expected"),
                        ((n - 1) / n if n > 1 else None,
                         "(N-1)/N: the variance taken with 1/N (biased) where 1/(N-1) "
                         "(unbiased) is expected"),
                        (float(n), "a missing 1/N"), (1.0 / n, "a 1/N too many")):
        if value is not None and np.isclose(k, value, rtol=1e-6, atol=1e-9):
            return text
    return "a wrong constant in that term"


def term_lines(reference_layers, inputs, dout, yours: dict, expected: dict,
               wrong: list[str], samples: int) -> list[str]:
    """For a one-layer reference whose Jacobian is a sum of terms (batch norm: identity, mean,
    variance): a wrong gradient that is right but for one term, and the factor that term has."""
    lines = []
    parts = term_vjps(reference_layers, inputs, dout) if wrong else {}
    for name in wrong:
        terms = parts.get(name, [])
        r = yours[name] - expected[name]
        scale = 1e-6 * max(float(np.abs(expected[name]).max(initial=0.0)), 1e-300)
        for array, text in terms if len(terms) > 1 else ():
            denom = float(np.sum(array * array))
            c = float(np.sum(r * array)) / denom if denom else 0.0
            if denom and float(np.abs(r - c * array).max()) <= scale:
                k = 0.0 if abs(1 + c) <= 1e-9 else 1 + c  # left out, to rounding
                lines.append(f"d{name} is right but for one term of the Jacobian, {text}: "
                             f"yours has it {k:.6g} times, {_times(k, samples)}")
                break
    return lines


def counts_for(reference_layers, inputs) -> dict[str, np.ndarray]:
    """d(sum of the output)/d(each input): how many outputs each entry reaches, for a layer
    that routes its input."""
    probe = reference(reference_layers, inputs)
    return reference(reference_layers, inputs, np.ones_like(probe.out)).grads


def ties_line(reference_layers, arrays: dict[str, np.ndarray]) -> str | None:
    pooling = reference_layers is None or any(isinstance(layer, MaxPool)
                                              for layer in as_layers(reference_layers))
    for name, a in arrays.items():
        if a.dtype.kind != "f" or not a.size:
            continue
        values, repeats = np.unique(a, return_counts=True)
        if repeats.max() > 1 and pooling:
            v = values[int(np.argmax(repeats))]
            return (f"{name} has tied values ({v:g} appears {int(repeats.max())} times, as "
                    f"after a ReLU): a window with tied maxima must route its gradient to one "
                    f"of them (np.argmax picks the first); code that assumes one maximum "
                    f"fails there")
    return None


def returned_none(report, grads: list, floats: list[str]) -> bool:
    """A backward that returned None (a missing return statement) or None for some gradients:
    a problem naming them."""
    if len(grads) == 1 and grads[0] is None:
        report.problems.append("backward returned None: it must return the gradients, "
                               f"{', '.join('d' + k for k in floats) or 'one per float input'}"
                               " (a missing return statement?).")
        return True
    empty = [f"d{k}" for k, g in zip(floats, grads) if g is None]
    if empty and len(grads) == len(floats):
        report.problems.append(f"backward returned None for {', '.join(empty)}: return every "
                               f"gradient, one per float input, in order: "
                               f"{', '.join('d' + k for k in floats)}.")
        return True
    return False


def student_traceback(err: BaseException) -> str:
    """The exception with the library's own frames left out."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not os.path.abspath(f.filename).startswith(_LIBRARY)]
    text = "".join(traceback.format_list(frames)) + "".join(
        traceback.format_exception_only(type(err), err))
    return text.rstrip()


def snapshot(value):
    """A deep copy of the arrays in ``value`` (nested tuples, lists and dicts)."""
    if isinstance(value, dict):
        return {k: snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(snapshot(v) for v in value) if isinstance(value, tuple) else [
            snapshot(v) for v in value]
    if isinstance(value, np.ndarray) or hasattr(value, "detach"):
        return to_numpy(value).copy()
    return None


def changed(before, after) -> int:
    """How many array entries differ between a snapshot and the value now."""
    if isinstance(before, dict) and isinstance(after, dict):
        return sum(changed(before[k], after.get(k)) for k in before)
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        return sum(changed(b, a) for b, a in zip(before, after))
    if isinstance(before, np.ndarray):
        now = snapshot(after)
        if not isinstance(now, np.ndarray) or now.shape != before.shape:
            return before.size
        return int(np.sum(~((now == before) | (np.isnan(now) & np.isnan(before)))))
    return 0


def table_lines(net, x, yours: dict, wanted: dict, label) -> list[str]:
    """For a network that starts with an embedding: a wrong table gradient explained by the
    batch's ids (rows of ids the batch does not hold: a stale batch; wrong only where ids
    repeat: an assignment that must accumulate). ``label`` maps tensorcalc's names to the
    report's."""
    layer = net.layers[0]
    if getattr(layer, "kind", "") != "embedding":
        return []
    name = label(net.nodes[0].names["C"])
    if name not in yours:
        return []
    a, e = yours[name].reshape(layer.num, -1), wanted[name].reshape(layer.num, -1)
    bad = np.any(~np.isclose(a, e, rtol=1e-7, atol=1e-10 * max(1.0, np.abs(e).max())), axis=1)
    if not np.any(bad):
        return []
    counts = np.bincount(np.asarray(x, dtype=np.int64).ravel(), minlength=layer.num)
    absent = bad & (counts == 0)
    if np.any(absent):
        return [f"{name} has gradient in {int(absent.sum())} rows whose ids are not in this batch "
                f"(e.g. row {int(np.flatnonzero(absent)[0])}): built from another batch's ids "
                f"(a stale Xb)?"]
    if np.all(counts[bad] >= 2):
        return [f"{name} is wrong only in rows whose id repeats in the batch ({int(bad.sum())} "
                f"rows): assigned where it must accumulate: use np.add.at({name}_grad, X, "
                f"upstream) or +="]
    others = [k for k in yours if k != name and not np.allclose(
        yours[k], wanted[k], rtol=1e-7, atol=1e-10 * max(1.0, np.abs(wanted[k]).max()))]
    if not others:
        return [f"{name} is the only wrong gradient, so everything after the lookup is right: "
                f"the scatter into {name} uses other ids than this batch's (a stale Xb?) or "
                f"other rows of the upstream gradient"]
    return []
