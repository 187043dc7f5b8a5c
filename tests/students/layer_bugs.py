"""More buggy variants of the functions in layer_functions.py, same signatures, one mistake each
(named in the docstring): bias gradients not summed over the batch, a dropout that forgets its
scale, a max pooling that routes ties to the wrong maximum, a batch norm without its variance
term."""

import numpy as np

from .layer_functions import _conv_backward_padded, _pool_windows, affine_backward


def affine_backward_bias_first_row(dout, cache):
    """BUG: db = dout[0], the first sample's row, instead of dout.sum(axis=0)."""
    dx, dw, _ = affine_backward(dout, cache)
    return dx, dw, dout[0]


def affine_backward_bias_mean(dout, cache):
    """BUG: db = dout.mean(axis=0) instead of dout.sum(axis=0) (N times too small)."""
    dx, dw, _ = affine_backward(dout, cache)
    return dx, dw, dout.mean(axis=0)


def affine_backward_dw_transposed(dout, cache):
    """BUG: dw = dout.T @ x, shape (M, D): the right gradient transposed."""
    x, w, _ = cache
    dx, _, db = affine_backward(dout, cache)
    return dx, dout.T @ x.reshape(x.shape[0], -1), db


def conv_backward_bias_first_sample(dout, cache):
    """BUG: db sums the first sample's positions only (dout[0].sum(axis=(1, 2))) instead of
    every sample's (dout.sum(axis=(0, 2, 3)))."""
    x, pad = cache[0], cache[3]["pad"]
    dx_pad, dw, _ = _conv_backward_padded(dout, cache)
    H, W = x.shape[2:]
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, dout[0].sum(axis=(1, 2))


def dropout_backward_unscaled(dout, cache):
    """BUG: dx = dout * keep, without the 1/(1-p) the forward pass applied."""
    dropout_param, keep = cache
    if dropout_param.get("mode", "train") == "test":
        return dout.copy()
    return dout * keep


def max_pool_backward_last_tie(dout, cache):
    """BUG: routes each window's gradient to its LAST maximum (accumulating, so overlaps are
    fine); where a window has tied maxima torch (and np.argmax) takes the first."""
    x, pool_param = cache
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    for n, c, i, j, r, s, window in _pool_windows(x, pool_param):
        last = np.flatnonzero(window.ravel() == window.max())[-1]
        a, b = np.unravel_index(last, window.shape)
        dx[n, c, r + a, s + b] += dout[n, c, i, j]
    return dx


def batchnorm_backward_no_variance_term(dout, cache):
    """BUG: dx leaves out the variance term, - xhat * sum(g * xhat); dgamma and dbeta are
    right."""
    inv_std, xhat, gamma = cache["inv_std"], cache["xhat"], cache["gamma"]
    N = dout.shape[0]
    g = dout * gamma
    dx = inv_std / N * (N * g - g.sum(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
