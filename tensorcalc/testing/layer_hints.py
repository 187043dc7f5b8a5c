"""Which diagnosis lines a layer check prints, by the kind of reference layer: routing advice
(an assignment that must accumulate, tied maxima) for layers that route their input (max
pooling, an embedding), the kink advice for activations, the batch-axis sum for a bias
gradient taken from one sample or their mean, dropout's missing 1/(1-p)."""

from __future__ import annotations

import numpy as np

from ..layers import Activation, Dropout, Embedding, Flatten, MaxPool
from .layer_diagnosis import accumulate_line, counts_for, kink_line, term_lines
from .reference import as_layers
from .report import diagnose


def routes_input(layers) -> bool:
    """A reference whose output entries are input entries moved (max pooling, an embedding's
    lookup, a flatten), so an entry's contributions must be added up."""
    return (any(isinstance(layer, (MaxPool, Embedding)) for layer in layers)
            and all(isinstance(layer, (MaxPool, Embedding, Flatten)) for layer in layers))


def batch_sum_line(name: str, yours: np.ndarray, expected: np.ndarray,
                   dout: np.ndarray) -> str | None:
    """A bias gradient (dout summed over the batch axis, and over the positions of a
    convolution's output) that is one sample's row of dout, or the mean over the batch."""
    if dout.ndim < 2 or dout.shape[0] < 2 or yours.shape != expected.shape:
        return None
    if expected.shape == dout.shape[1:]:
        axes: tuple[int, ...] = ()
    elif dout.ndim > 2 and expected.shape == dout.shape[1:2]:
        axes = tuple(range(1, dout.ndim - 1))  # a sample's positions
    else:
        return None
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)

    def equal(a, b):
        return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9 * scale))

    if not equal(expected, dout.sum(axis=0).sum(axis=axes)):
        return None
    every = "(0, " + ", ".join(str(a + 1) for a in axes) + ")" if axes else "0"
    candidates = [(f"dout[{k}], one sample's row", dout[k]) for k in range(dout.shape[0])]
    for what, value in candidates + [("the mean of dout over the batch", dout.mean(axis=0))]:
        if equal(yours, value.sum(axis=axes)):
            return (f"d{name} is {what}: a bias reaches every sample, so its gradient is the "
                    f"sum over the batch axis: d{name} = dout.sum(axis={every})")
    return None


def dropout_scale_line(name: str, yours: np.ndarray, expected: np.ndarray,
                       layers) -> str | None:
    """A dropout gradient that is the expected one times (1 - p) wherever it is non-zero:
    the backward left out the 1/(1-p) that inverted dropout applies to kept entries."""
    if len(layers) != 1 or not isinstance(layers[0], Dropout) or yours.shape != expected.shape:
        return None
    p, kept = layers[0].p, expected != 0
    if not 0 < p < 1 or not np.any(kept) or np.any(yours[~kept]):
        return None
    if np.allclose(yours[kept], (1 - p) * expected[kept], rtol=1e-6):
        return (f"d{name} is the expected one times 1 - p = {1 - p:.6g}: inverted dropout (as "
                f"torch's and tc.Dropout's) scales kept entries by 1/(1-p) = {1 / (1 - p):.6g} "
                f"in the forward pass, so the backward is dout * mask / (1 - p)")
    return None


def tie_line(name: str, wrong: np.ndarray, x: np.ndarray) -> str | None:
    """A max-pooling gradient wrong only at entries whose value another entry shares."""
    if x.shape != wrong.shape or not np.any(wrong):
        return None
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    tied = counts[inverse.reshape(x.shape)] >= 2
    if np.all(tied[wrong]):
        return (f"d{name} is wrong only at entries of {name} that tie with another entry "
                f"({int(np.sum(wrong))} entries): a window with tied maxima routes its whole "
                f"gradient to one of them, the first (np.argmax, as torch does); yours sends "
                f"it to another one or splits it")
    return None


def diagnose_layer(report, yours, expected, arrays, reference, inputs, dout, rtol) -> None:
    """Add the diagnosis lines of a layer check's wrong gradients to ``report``."""
    wrong = [n for n in yours if not report.checks[f"d{n}"].ok]
    if not wrong:
        return
    first = next(iter(arrays))
    samples = arrays[first].shape[0] if arrays[first].ndim else 1
    report.diagnosis += list(diagnose({f"d{n}": yours[n] for n in wrong},
                                      {f"d{n}": expected[n] for n in wrong},
                                      {f"d{n}": report.checks[f"d{n}"] for n in wrong},
                                      samples))
    report.diagnosis += [line for name in wrong if name != first and (
        line := batch_sum_line(name, yours[name], expected[name], dout))]
    if reference is None:
        return
    layers = as_layers(reference)
    counts = counts_for(reference, inputs) if routes_input(layers) else {}
    activation = all(isinstance(layer, Activation) for layer in layers)
    pooling = all(isinstance(layer, (MaxPool, Flatten)) for layer in layers)
    for name in wrong:
        bad = ~np.isclose(yours[name], expected[name], rtol=rtol,
                          atol=rtol * max(1.0, np.abs(expected[name]).max()))
        accumulate = accumulate_line(name, bad, counts.get(name))
        for line in (accumulate, dropout_scale_line(name, yours[name], expected[name], layers),
                     kink_line(name, bad, arrays[name]) if activation and name == first else None,
                     tie_line(name, bad, arrays[name]) if pooling and name == first
                     and not accumulate else None):
            if line:
                report.diagnosis.append(line)
    report.diagnosis += term_lines(reference, inputs, dout, yours, expected, wrong, samples)
