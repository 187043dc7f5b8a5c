"""Student code in the layer-function style: ``out, cache = X_forward(x, ...)`` and
``dx, dw, ... = X_backward(dout, cache)``, in plain numpy.

The first half holds correct implementations; the second half holds buggy variants with the
same signatures, each one's docstring naming its bug. They are fixtures for the tests of the
gradient checker, written the way a student hands them in (explicit loops where the exercise
asks for naive versions)."""

import numpy as np

# ----------------------------------------------------------------------------------------------
# affine and ReLU
# ----------------------------------------------------------------------------------------------


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b for x of shape (N, d1, ..., dk), w (D, M), b (M,)."""
    rows = x.reshape(x.shape[0], -1)
    out = rows @ w + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """dx shaped like x, dw (D, M), db (M,)."""
    x, w, _ = cache
    rows = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = rows.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(x, 0)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """dx = dout where x > 0, so relu'(0) = 0."""
    x = cache
    dx = dout * (x > 0)
    return dx


# ----------------------------------------------------------------------------------------------
# batch norm and layer norm
# ----------------------------------------------------------------------------------------------


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch norm of x (N, D) over the batch, biased variance in training mode.

    bn_param: "mode" ("train" or "test"), "eps" (1e-5), "momentum" (0.9); the running mean and
    variance are kept in bn_param and used in test mode."""
    mode = bn_param.get("mode", "train")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    if mode == "train":
        N = x.shape[0]
        mu = x.sum(axis=0) / N
        xc = x - mu
        sq = xc**2
        var = sq.sum(axis=0) / N
        std = np.sqrt(var + eps)
        inv_std = 1.0 / std
        xhat = xc * inv_std
        out = gamma * xhat + beta
        cache = {
            "x": x, "mu": mu, "xc": xc, "sq": sq, "var": var, "std": std,
            "inv_std": inv_std, "xhat": xhat, "gamma": gamma, "eps": eps,
        }
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xhat + beta
        cache = None
    else:
        raise ValueError(f"invalid batchnorm mode {mode!r}")

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward through the graph of batchnorm_forward, one node at a time."""
    xc, sq, std = cache["xc"], cache["sq"], cache["std"]
    inv_std, xhat, gamma = cache["inv_std"], cache["xhat"], cache["gamma"]
    N = dout.shape[0]

    # out = gamma * xhat + beta
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    # xhat = xc * inv_std
    dxc = dxhat * inv_std
    dinv_std = (dxhat * xc).sum(axis=0)
    # inv_std = 1 / std
    dstd = -dinv_std / std**2
    # std = sqrt(var + eps)
    dvar = dstd * 0.5 / std
    # var = sum(sq) / N
    dsq = np.ones_like(sq) * dvar / N
    # sq = xc ** 2
    dxc = dxc + 2 * xc * dsq
    # xc = x - mu
    dx = dxc.copy()
    dmu = -dxc.sum(axis=0)
    # mu = sum(x) / N
    dx = dx + np.ones_like(dx) * dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The same gradients in the compact closed form."""
    inv_std, xhat, gamma = cache["inv_std"], cache["xhat"], cache["gamma"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    g = dout * gamma
    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer norm of x (N, D) over the features of each row; ln_param: "eps" (1e-5)."""
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    var = (xc**2).mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = xc * inv_std
    out = gamma * xhat + beta
    cache = (xhat, inv_std, gamma)
    return out, cache


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    D = dout.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    g = dout * gamma
    dx = inv_std / D * (
        D * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------------------------
# dropout (p is the DROP probability, kept entries scaled by 1/(1-p), as in torch)
# ----------------------------------------------------------------------------------------------


def _dropout_uniforms(x, dropout_param):
    seed = dropout_param.get("seed")
    return np.random.default_rng(seed).random(x.shape)


def dropout_forward(x, dropout_param):
    """dropout_param: "p" (drop probability), "mode" ("train"/"test"), "seed" (optional).

    The cache is (dropout_param, keep) with keep the boolean mask of the surviving entries."""
    p = dropout_param["p"]
    mode = dropout_param.get("mode", "train")
    if mode == "train":
        keep = _dropout_uniforms(x, dropout_param) >= p
        scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
        out = x * keep * scale
    elif mode == "test":
        keep = None
        out = x.copy()
    else:
        raise ValueError(f"invalid dropout mode {mode!r}")
    cache = (dropout_param, keep)
    return out, cache


def dropout_backward(dout, cache):
    dropout_param, keep = cache
    if dropout_param.get("mode", "train") == "test":
        return dout.copy()
    p = dropout_param["p"]
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    return dout * keep * scale


# ----------------------------------------------------------------------------------------------
# convolution and max pooling (naive loops)
# ----------------------------------------------------------------------------------------------


def _conv_out_size(size, k, pad, stride):
    return 1 + (size + 2 * pad - k) // stride


def conv_forward_naive(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,); conv_param "stride", "pad" (zero padding).
    Output (N, F, H', W') with H' = 1 + (H + 2 pad - HH) // stride."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = _conv_out_size(H, HH, pad, stride), _conv_out_size(W, WW, pad, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w, b))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, c = i * stride, j * stride
                    patch = xp[n, :, r:r + HH, c:c + WW]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def _conv_backward_padded(dout, cache):
    """dx_pad (the gradient of the padded input), dw, db."""
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, HH, WW = w.shape
    N, F, Ho, Wo = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(xp, dtype=np.result_type(x, dout))
    dw = np.zeros_like(w, dtype=np.result_type(w, dout))
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, c = i * stride, j * stride
                    g = dout[n, f, i, j]
                    dw[f] += g * xp[n, :, r:r + HH, c:c + WW]
                    dx_pad[n, :, r:r + HH, c:c + WW] += g * w[f]
    return dx_pad, dw, db


def conv_backward_naive(dout, cache):
    """dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    x = cache[0]
    pad = cache[3]["pad"]
    H, W = x.shape[2:]
    dx_pad, dw, db = _conv_backward_padded(dout, cache)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def _pool_windows(x, pool_param):
    """Yield (n, c, i, j, r, s, window) for every pooling window."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, s = i * stride, j * stride
                    yield n, c, i, j, r, s, x[n, c, r:r + ph, s:s + pw]


def max_pool_forward_naive(x, pool_param):
    """pool_param "pool_height", "pool_width", "stride"; no padding."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride), dtype=x.dtype)
    for n, c, i, j, _, _, window in _pool_windows(x, pool_param):
        out[n, c, i, j] = window.max()
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Route each window's gradient to its (first, by np.argmax) maximum, accumulating with +=
    where windows overlap."""
    x, pool_param = cache
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    for n, c, i, j, r, s, window in _pool_windows(x, pool_param):
        a, b = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, r + a, s + b] += dout[n, c, i, j]
    return dx


# ----------------------------------------------------------------------------------------------
# spatial batch norm and group norm
# ----------------------------------------------------------------------------------------------


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, C, H, W), gamma and beta (C,): the vanilla batch norm on (N*H*W, C) rows."""
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    drows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(drows, cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """x (N, C, H, W) normalised over each of G groups of C // G channels (and all positions);
    gamma and beta (C,) per channel; gn_param "eps" (1e-5)."""
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    groups = x.reshape(N, G, -1)
    mu = groups.mean(axis=2, keepdims=True)
    xc = groups - mu
    var = (xc**2).mean(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (xc * inv_std).reshape(N, C, H, W)
    out = gamma.reshape(1, C, 1, 1) * xhat + beta.reshape(1, C, 1, 1)
    cache = (xhat, inv_std, gamma, G)
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    xhat, inv_std, gamma, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    g = (dout * gamma.reshape(1, C, 1, 1)).reshape(N, G, -1)
    xh = xhat.reshape(N, G, -1)
    M = g.shape[2]
    dx = inv_std / M * (
        M * g - g.sum(axis=2, keepdims=True) - xh * (g * xh).sum(axis=2, keepdims=True))
    return dx.reshape(N, C, H, W), dgamma, dbeta


# ----------------------------------------------------------------------------------------------
# losses: x (N, C) scores, y (N,) integer labels, averaged over N
# ----------------------------------------------------------------------------------------------


def svm_loss(x, y):
    """Multiclass hinge loss with margin 1; returns (loss, dx)."""
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0.0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0.0
    loss = margins.sum() / N
    active = (margins > 0).astype(x.dtype)
    active[rows, y] = -active.sum(axis=1)
    dx = active / N
    return loss, dx


def softmax_loss(x, y):
    """Mean cross-entropy of the softmax of the scores; returns (loss, dx)."""
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / N
    dx = np.exp(log_probs)
    dx[rows, y] -= 1.0
    dx /= N
    return loss, dx


# ==============================================================================================
# BUGGY variants: same signatures, one mistake each (named in the docstring)
# ==============================================================================================


def affine_backward_no_transpose(dout, cache):
    """BUG: dw = dout.T @ x instead of x.T @ dout, the transpose of the right gradient: shape
    (M, D) instead of (D, M); when D == M the shape is right and the values are transposed."""
    x, w, _ = cache
    rows = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = dout.T @ rows
    db = dout.sum(axis=0)
    return dx, dw, db


def affine_backward_sign(dout, cache):
    """BUG: dw has the wrong sign (-(x.T @ dout)); dx and db are right."""
    x, w, _ = cache
    rows = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = -(rows.T @ dout)
    db = dout.sum(axis=0)
    return dx, dw, db


def affine_backward_inplace(dout, cache):
    """BUG: correct values, but it zeroes the caller's ``dout`` in place once used
    ("zero the gradient after consuming it"), so the caller's array is changed and a second
    call with the same dout returns zeros."""
    x, w, _ = cache
    rows = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = rows.T @ dout
    db = dout.sum(axis=0)
    dout.fill(0.0)
    return dx, dw, db


def relu_backward_inplace(dout, cache):
    """BUG: correct values, but writes into the caller's ``dout`` (``dout[x <= 0] = 0``) and
    returns that same array as dx."""
    x = cache
    dout[x <= 0] = 0
    dx = dout
    return dx


def relu_backward_at_zero_one(dout, cache):
    """BUG: relu'(0) = 1 (dx = dout * (x >= 0)); wrong only where x is exactly 0."""
    x = cache
    dx = dout * (x >= 0)
    return dx


def batchnorm_backward_row_params(dout, cache):
    """BUG: right values, but dgamma and dbeta are returned with shape (1, D) instead of (D,)
    (sums with keepdims=True)."""
    inv_std, xhat, gamma = cache["inv_std"], cache["xhat"], cache["gamma"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * xhat).sum(axis=0, keepdims=True)
    g = dout * gamma
    dx = inv_std / N * (N * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def batchnorm_backward_unbiased(dout, cache):
    """BUG: the backward differentiates a 1/(N-1) (unbiased) variance while the forward used
    1/N, so the variance term of dx is too large by N/(N-1); dgamma and dbeta are right."""
    xc, std = cache["xc"], cache["std"]
    inv_std, xhat, gamma = cache["inv_std"], cache["xhat"], cache["gamma"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dxc = dxhat * inv_std
    dinv_std = (dxhat * xc).sum(axis=0)
    dstd = -dinv_std / std**2
    dvar = dstd * 0.5 / std
    dxc = dxc + 2 * xc * dvar / (N - 1)
    dx = dxc - dxc.sum(axis=0) / N
    return dx, dgamma, dbeta


def dropout_forward_keep_p(x, dropout_param):
    """BUG: treats p as the KEEP probability: keeps entries where rand < p and scales them by
    1/p (the opposite of torch's convention, where p is the drop probability). Same cache
    layout as dropout_forward: (dropout_param, keep)."""
    p = dropout_param["p"]
    mode = dropout_param.get("mode", "train")
    if mode == "train":
        keep = _dropout_uniforms(x, dropout_param) < p
        out = x * keep / p
    elif mode == "test":
        keep = None
        out = x.copy()
    else:
        raise ValueError(f"invalid dropout mode {mode!r}")
    cache = (dropout_param, keep)
    return out, cache


def dropout_backward_keep_p(dout, cache):
    """BUG: scales the kept entries by 1/p (p taken as the keep probability) instead of
    1/(1-p). Consistent with dropout_forward_keep_p; with the cache of dropout_forward the
    gradient is off by the factor (1-p)/p."""
    dropout_param, keep = cache
    if dropout_param.get("mode", "train") == "test":
        return dout.copy()
    return dout * keep / dropout_param["p"]


def conv_backward_naive_pad_slice(dout, cache):
    """BUG: takes dx as dx_pad[:, :, pad:-pad, pad:-pad]; right for pad > 0, but for pad = 0
    the slice 0:-0 is empty and dx has shape (N, C, 0, 0)."""
    pad = cache[3]["pad"]
    dx_pad, dw, db = _conv_backward_padded(dout, cache)
    dx = dx_pad[:, :, pad:-pad, pad:-pad]
    return dx, dw, db


def max_pool_backward_assign(dout, cache):
    """BUG (two): assigns (=) instead of accumulating (+=), so where overlapping windows share a
    maximum only the last window's gradient survives; and it finds the maximum with the mask
    ``window == window.max()`` unpacked as a single position, which raises ValueError when a
    window has tied maxima (e.g. a window of zeros)."""
    x, pool_param = cache
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    for n, c, i, j, r, s, window in _pool_windows(x, pool_param):
        mask = window == window.max()
        ((a, b),) = np.argwhere(mask)
        dx[n, c, r + a, s + b] = dout[n, c, i, j]
    return dx


def max_pool_backward_first_not_accumulate(dout, cache):
    """BUG: routes to the first maximum (np.argmax, so ties are fine) but assigns (=) instead
    of accumulating (+=): where overlapping windows share a maximum, only the last window's
    gradient survives."""
    x, pool_param = cache
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    for n, c, i, j, r, s, window in _pool_windows(x, pool_param):
        a, b = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, r + a, s + b] = dout[n, c, i, j]
    return dx


def spatial_groupnorm_backward_shape(dout, cache):
    """BUG (shape style): right values, but dgamma and dbeta are returned with shape
    (1, C, 1, 1) (the layout of the well-known assignment) instead of gamma's own (C,)."""
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    C = dout.shape[1]
    return dx, dgamma.reshape(1, C, 1, 1), dbeta.reshape(1, C, 1, 1)


def softmax_loss_no_mean(x, y):
    """BUG: the loss is the mean over N, but dx is not divided by N (N times too large)."""
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / N
    dx = np.exp(log_probs)
    dx[rows, y] -= 1.0
    return loss, dx
