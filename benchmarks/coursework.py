"""Benchmark cases for the course exercises: embedding backprop (a makemore-sized vocabulary and
a 50,000-word one) and check_layer on the layer-function assignment's sizes. Used by run.py."""

from __future__ import annotations

from functools import partial

import numpy as np

import tensorcalc as tc

VOCABS = (27, 50_000)


def embedding_net(vocab: int):
    """C[X] for T = 3 ids, flattened, a hidden tanh layer with Bessel batch norm, softmax."""
    out = vocab if vocab < 100 else 10
    layers = [tc.Embedding(vocab, 10), tc.Flatten(), tc.Dense(64), tc.BatchNorm(unbiased=True),
              "tanh", tc.Dense(out), "softmax"]
    return tc.Network.stack(layers, loss="cross_entropy", input_shape=(3,), seed=0), out


def embedding_cases(ops: dict, cfg, run_case, as_array) -> list[dict]:
    """Full against shortcut (time and peak memory) at batch 32."""
    cases = []
    rng = np.random.default_rng(3)
    for vocab in VOCABS:
        net, out = embedding_net(vocab)
        x, y = rng.integers(vocab, size=(32, 3)), rng.integers(out, size=32)
        fns = {m: partial(tc.backprop, net, x, y, method=m) for m in ("full", "shortcut")}
        ref = as_array(tc.backprop(net, x, y, method="shortcut"))
        cases.append(run_case(f"embedding vocab {vocab}, T 3, dim 10, batch 32", fns,
                              "shortcut", cfg, {"full", "shortcut"}, ref))
    return cases


# ----------------------------------------------------------------- a student's naive layers
def conv_forward_naive(x, w, b, conv):
    pad, s = conv["pad"], conv["stride"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    f, _, hh, ww = w.shape
    ho, wo = (xp.shape[2] - hh) // s + 1, (xp.shape[3] - ww) // s + 1
    out = np.zeros((x.shape[0], f, ho, wo))
    for n in range(x.shape[0]):
        for k in range(f):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[n, :, i * s:i * s + hh, j * s:j * s + ww]
                    out[n, k, i, j] = np.sum(patch * w[k]) + b[k]
    return out, (x, w, b, conv)


def conv_backward_naive(dout, cache):
    x, w, _, conv = cache
    pad, s = conv["pad"], conv["stride"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    hh, ww = w.shape[2:]
    for n in range(x.shape[0]):
        for k in range(w.shape[0]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    dw[k] += dout[n, k, i, j] * xp[n, :, i * s:i * s + hh, j * s:j * s + ww]
                    dxp[n, :, i * s:i * s + hh, j * s:j * s + ww] += dout[n, k, i, j] * w[k]
    h, wd = x.shape[2:]
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, dout.sum(axis=(0, 2, 3))


def batchnorm_forward(x, gamma, beta):
    xhat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    return gamma * xhat + beta, (xhat, gamma, x.var(axis=0))


def batchnorm_backward(dout, cache):
    xhat, gamma, var = cache
    n = dout.shape[0]
    dx = gamma / np.sqrt(var + 1e-5) / n * (n * dout - dout.sum(axis=0)
                                             - xhat * np.sum(dout * xhat, axis=0))
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def check_layer_cases(ops: dict, cfg, run_case, as_array) -> list[dict]:
    """check_layer on the assignment's sizes: conv x 4x3x5x5, w 2x3x3x3 (pad 1) and batch
    norm 4x5, with the exact reference and with central differences."""
    rng = np.random.default_rng(4)
    conv = {"x": rng.normal(size=(4, 3, 5, 5)), "w": rng.normal(size=(2, 3, 3, 3)),
            "b": rng.normal(size=2)}
    bn = {"x": rng.normal(size=(4, 5)), "gamma": rng.normal(size=5), "beta": rng.normal(size=5)}
    layers = {"conv": (conv_forward_naive, conv_backward_naive, conv, ({"stride": 1, "pad": 1},),
                       tc.Conv2d(2, 3, padding=1)),
              "batch norm": (batchnorm_forward, batchnorm_backward, bn, (), tc.BatchNorm())}
    cases = []
    for name, (forward, backward, inputs, args, reference) in layers.items():
        fns = {"reference": lambda f=forward, b=backward, i=inputs, a=args, r=reference:
               np.array([tc.check_layer(f, b, i, *a, reference=r).ok], dtype=float),
               "central differences": lambda f=forward, b=backward, i=inputs, a=args:
               np.array([tc.check_layer(f, b, i, *a).ok], dtype=float)}
        cases.append(run_case(f"check_layer {name} (assignment sizes)", fns, "reference", cfg,
                              set(), np.ones(1)))
    return cases


def _target(text: str, value, limit: float) -> dict:
    status = "skip" if value is None else "pass" if value <= limit else "miss"
    return {"target": text, "value": value, "limit": limit, "status": status}


def coursework_targets(rows: dict) -> list[dict]:
    """The issue's targets: embedding full/shortcut <= 1.5 in time and in peak memory, and
    check_layer with the exact reference under 1 s (an absolute bound, in seconds)."""
    out = []
    for vocab in VOCABS:
        case = f"embedding vocab {vocab}, T 3, dim 10, batch 32"
        for key, what in (("median_s", "time"), ("peak_bytes", "peak memory")):
            a, b = (rows.get((case, m), {}).get(key) for m in ("full", "shortcut"))
            out.append(_target(f"{what} full/shortcut, {case}",
                               a / b if a is not None and b else None, 1.5))
    for name in ("conv", "batch norm"):
        case = f"check_layer {name} (assignment sizes)"
        out.append(_target(f"seconds of check_layer with the reference, {case}",
                           rows.get((case, "reference"), {}).get("median_s"), 1.0))
    return out
