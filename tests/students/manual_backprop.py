"""Student code in the manual-backprop style: a character-level MLP (embedding table, one
batch-normed tanh hidden layer, softmax cross-entropy) whose forward pass is broken into named
intermediates and whose backward pass is written by hand, one intermediate at a time.

Parameters (a dict): C (vocab, emb_dim), W1 (emb_dim*T, hidden), b1 (hidden,),
bngain (1, hidden), bnbias (1, hidden), W2 (hidden, vocab), b2 (vocab,). A batch is Xb (N, T)
of integer ids and Yb (N,) of integer labels. The batch norm uses the Bessel-corrected
(1/(n-1)) variance in the forward.

``manual_backward`` is correct; the ``manual_backward_*`` variants each plant one bug, named in
their docstrings."""

import numpy as np

EPS = 1e-5

PARAM_NAMES = ("C", "W1", "b1", "bngain", "bnbias", "W2", "b2")

INTERMEDIATES = (
    "emb", "embcat", "hprebn", "bnmeani", "bndiff", "bndiff2", "bnvar", "bnvar_inv", "bnraw",
    "hpreact", "h", "logits", "logit_maxes", "norm_logits", "counts", "counts_sum",
    "counts_sum_inv", "probs", "logprobs",
)


def make_case(seed=0, vocab=27, T=3, emb_dim=10, hidden=64, N=32):
    """(params, Xb, Yb) drawn deterministically from np.random.default_rng(seed), float64.

    The initialisation is small but not degenerate (biases, gain and bias of the batch norm
    are random too), so every gradient is nonzero."""
    rng = np.random.default_rng(seed)
    fan_in = emb_dim * T
    params = {
        "C": rng.standard_normal((vocab, emb_dim)),
        "W1": rng.standard_normal((fan_in, hidden)) * (5 / 3) / np.sqrt(fan_in),
        "b1": rng.standard_normal(hidden) * 0.1,
        "bngain": 1.0 + rng.standard_normal((1, hidden)) * 0.1,
        "bnbias": rng.standard_normal((1, hidden)) * 0.1,
        "W2": rng.standard_normal((hidden, vocab)) * 0.1,
        "b2": rng.standard_normal(vocab) * 0.1,
    }
    Xb = rng.integers(0, vocab, size=(N, T))
    Yb = rng.integers(0, vocab, size=N)
    return params, Xb, Yb


def forward(params, Xb, Yb):
    """The loss and a dict of every intermediate (keys as in INTERMEDIATES)."""
    C, W1, b1 = params["C"], params["W1"], params["b1"]
    bngain, bnbias = params["bngain"], params["bnbias"]
    W2, b2 = params["W2"], params["b2"]
    n = Xb.shape[0]

    emb = C[Xb]                                   # (n, T, emb_dim)
    embcat = emb.reshape(emb.shape[0], -1)        # (n, T*emb_dim)
    hprebn = embcat @ W1 + b1                     # (n, hidden)
    bnmeani = 1 / n * hprebn.sum(0, keepdims=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdims=True)  # Bessel's correction
    bnvar_inv = (bnvar + EPS) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = np.tanh(hpreact)
    logits = h @ W2 + b2                          # (n, vocab)
    logit_maxes = logits.max(1, keepdims=True)
    norm_logits = logits - logit_maxes
    counts = np.exp(norm_logits)
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = np.log(probs)
    loss = -logprobs[np.arange(n), Yb].mean()

    cache = {
        "emb": emb, "embcat": embcat, "hprebn": hprebn, "bnmeani": bnmeani, "bndiff": bndiff,
        "bndiff2": bndiff2, "bnvar": bnvar, "bnvar_inv": bnvar_inv, "bnraw": bnraw,
        "hpreact": hpreact, "h": h, "logits": logits, "logit_maxes": logit_maxes,
        "norm_logits": norm_logits, "counts": counts, "counts_sum": counts_sum,
        "counts_sum_inv": counts_sum_inv, "probs": probs, "logprobs": logprobs,
    }
    return loss, cache


def _backward(params, Xb, Yb, cache, *, var_n=None, tanh_from_preact=False,
              scatter_ids=None, scatter_assign=False):
    """The hand-written backward pass; the keyword arguments plant the bugs of the variants."""
    W1, bngain, W2 = params["W1"], params["bngain"], params["W2"]
    c = cache
    n = Xb.shape[0]
    rows = np.arange(n)
    g = {}

    # loss = -logprobs[range(n), Yb].mean()
    dlogprobs = np.zeros_like(c["logprobs"])
    dlogprobs[rows, Yb] = -1.0 / n
    g["dlogprobs"] = dlogprobs
    # logprobs = log(probs)
    dprobs = dlogprobs / c["probs"]
    g["dprobs"] = dprobs
    # probs = counts * counts_sum_inv  (counts_sum_inv broadcast over the columns)
    dcounts_sum_inv = (c["counts"] * dprobs).sum(1, keepdims=True)
    dcounts = c["counts_sum_inv"] * dprobs
    g["dcounts_sum_inv"] = dcounts_sum_inv
    # counts_sum_inv = counts_sum ** -1
    dcounts_sum = -c["counts_sum"] ** -2 * dcounts_sum_inv
    g["dcounts_sum"] = dcounts_sum
    # counts_sum = counts.sum(1, keepdims=True)  (second use of counts)
    dcounts = dcounts + np.ones_like(c["counts"]) * dcounts_sum
    g["dcounts"] = dcounts
    # counts = exp(norm_logits)
    dnorm_logits = c["counts"] * dcounts
    g["dnorm_logits"] = dnorm_logits
    # norm_logits = logits - logit_maxes
    dlogits = dnorm_logits.copy()
    dlogit_maxes = -dnorm_logits.sum(1, keepdims=True)
    g["dlogit_maxes"] = dlogit_maxes
    # logit_maxes = logits.max(1, keepdims=True)  (second use of logits)
    onehot_max = np.zeros_like(c["logits"])
    onehot_max[rows, c["logits"].argmax(1)] = 1.0
    dlogits = dlogits + onehot_max * dlogit_maxes
    g["dlogits"] = dlogits
    # logits = h @ W2 + b2
    dh = dlogits @ W2.T
    g["dh"] = dh
    g["dW2"] = c["h"].T @ dlogits
    g["db2"] = dlogits.sum(0)
    # h = tanh(hpreact)
    if tanh_from_preact:
        dhpreact = (1.0 - c["hpreact"] ** 2) * dh
    else:
        dhpreact = (1.0 - c["h"] ** 2) * dh
    g["dhpreact"] = dhpreact
    # hpreact = bngain * bnraw + bnbias
    g["dbngain"] = (c["bnraw"] * dhpreact).sum(0, keepdims=True)
    g["dbnbias"] = dhpreact.sum(0, keepdims=True)
    dbnraw = bngain * dhpreact
    g["dbnraw"] = dbnraw
    # bnraw = bndiff * bnvar_inv
    dbndiff = c["bnvar_inv"] * dbnraw
    dbnvar_inv = (c["bndiff"] * dbnraw).sum(0, keepdims=True)
    g["dbnvar_inv"] = dbnvar_inv
    # bnvar_inv = (bnvar + eps) ** -0.5
    dbnvar = -0.5 * (c["bnvar"] + EPS) ** -1.5 * dbnvar_inv
    g["dbnvar"] = dbnvar
    # bnvar = 1/(n-1) * bndiff2.sum(0, keepdims=True)
    denom = (n - 1) if var_n is None else var_n
    dbndiff2 = 1.0 / denom * np.ones_like(c["bndiff2"]) * dbnvar
    g["dbndiff2"] = dbndiff2
    # bndiff2 = bndiff ** 2  (second use of bndiff)
    dbndiff = dbndiff + 2 * c["bndiff"] * dbndiff2
    g["dbndiff"] = dbndiff
    # bndiff = hprebn - bnmeani
    dhprebn = dbndiff.copy()
    dbnmeani = -dbndiff.sum(0, keepdims=True)
    g["dbnmeani"] = dbnmeani
    # bnmeani = 1/n * hprebn.sum(0, keepdims=True)  (second use of hprebn)
    dhprebn = dhprebn + 1.0 / n * np.ones_like(c["hprebn"]) * dbnmeani
    g["dhprebn"] = dhprebn
    # hprebn = embcat @ W1 + b1
    dembcat = dhprebn @ W1.T
    g["dembcat"] = dembcat
    g["dW1"] = c["embcat"].T @ dhprebn
    g["db1"] = dhprebn.sum(0)
    # embcat = emb.reshape(n, -1)
    demb = dembcat.reshape(c["emb"].shape)
    g["demb"] = demb
    # emb = C[Xb]
    ids = Xb if scatter_ids is None else scatter_ids
    dC = np.zeros_like(params["C"])
    if scatter_assign:
        for i in range(ids.shape[0]):
            for j in range(ids.shape[1]):
                dC[ids[i, j]] = demb[i, j]
    else:
        for i in range(ids.shape[0]):
            for j in range(ids.shape[1]):
                dC[ids[i, j]] += demb[i, j]
    g["dC"] = dC
    return g


def manual_backward(params, Xb, Yb, cache):
    """A dict "d<name>" -> gradient of the loss for every intermediate and every parameter,
    each in its own shape (dbngain and dbnbias (1, hidden), db1 (hidden,), db2 (vocab,))."""
    return _backward(params, Xb, Yb, cache)


def closed_form_dlogits(logits, Yb):
    """dloss/dlogits in one step: (softmax(logits) - onehot(Yb)) / n."""
    n = logits.shape[0]
    e = np.exp(logits - logits.max(1, keepdims=True))
    d = e / e.sum(1, keepdims=True)
    d[np.arange(n), Yb] -= 1.0
    return d / n


def closed_form_dhprebn(hprebn, bngain, dhpreact, eps=EPS):
    """dloss/dhprebn in one step, for the Bessel-corrected batch norm of the forward:

        bngain * bnvar_inv / n * (n*dhpreact - dhpreact.sum(0)
                                  - n/(n-1) * bnraw * (dhpreact * bnraw).sum(0))

    (the n/(n-1) factor comes from the 1/(n-1) variance)."""
    n = hprebn.shape[0]
    bndiff = hprebn - hprebn.mean(0, keepdims=True)
    bnvar_inv = (1 / (n - 1) * (bndiff**2).sum(0, keepdims=True) + eps) ** -0.5
    bnraw = bndiff * bnvar_inv
    return bngain * bnvar_inv / n * (
        n * dhpreact
        - dhpreact.sum(0, keepdims=True)
        - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0, keepdims=True)
    )


# ==============================================================================================
# BUGGY variants
# ==============================================================================================


def manual_backward_stale_batch(params, Xb, Yb, cache, Xb_prev=None):
    """BUG: dC is built by scattering demb with the ids of a different (stale) batch: Xb_prev
    if given, else Xb rolled by one row (the previous batch of a loop that forgot to refresh
    its ids). Everything up to demb is right; dC is wrong."""
    stale = np.roll(Xb, 1, axis=0) if Xb_prev is None else Xb_prev
    return _backward(params, Xb, Yb, cache, scatter_ids=stale)


def manual_backward_assign_embedding(params, Xb, Yb, cache):
    """BUG: dC[Xb[i, j]] = demb[i, j] (assignment) instead of +=, so the rows of dC whose id
    occurs more than once in the batch keep only the last occurrence's gradient."""
    return _backward(params, Xb, Yb, cache, scatter_assign=True)


def manual_backward_biased_bn(params, Xb, Yb, cache):
    """BUG: the variance backward uses 1/n while the forward's variance was 1/(n-1):
    dbndiff2 is too small by (n-1)/n, and so are the variance terms of dbndiff, dhprebn and
    everything below them (dembcat, dW1, demb, dC; db1 is unaffected since that term sums to
    zero over the batch)."""
    return _backward(params, Xb, Yb, cache, var_n=Xb.shape[0])


def manual_backward_tanh_wrong(params, Xb, Yb, cache):
    """BUG: tanh's derivative taken as 1 - hpreact**2 instead of 1 - h**2, so dhpreact and
    everything below it (dbngain, dbnbias, ..., dW1, db1, dC) are wrong."""
    return _backward(params, Xb, Yb, cache, tanh_from_preact=True)
