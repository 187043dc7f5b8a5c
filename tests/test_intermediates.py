"""Gradients at layer boundaries: every method agrees, torch's retained gradients agree, and a
manual backprop (tests/students/manual_backprop.py) is checked intermediate by intermediate,
with the first wrong one named."""

import numpy as np
import pytest
from students import manual_backprop as mb

import tensorcalc as tc
from tensorcalc import strategies as tcs

RNG = np.random.default_rng(21)
AT = {7: "dprobs", 6: "dlogits", 5: "dh", 4: "dhpreact", 3: "dhprebn", 2: "dembcat", 1: "demb"}


def makemore(params):
    layers = [tc.Embedding(27, params["C"].shape[1]), tc.Flatten(),
              tc.Dense(params["W1"].shape[1], weights="in_out"), tc.BatchNorm(unbiased=True),
              "tanh", tc.Dense(27, weights="in_out"), "softmax"]
    return tc.Network.stack(layers, loss="cross_entropy", input_shape=(params["Xb"].shape[1],),
                            params={k: v for k, v in params.items() if k != "Xb"},
                            names={"C1": "C", "gamma1": "bngain", "beta1": "bnbias"},
                            numbering="by_dense")


@pytest.fixture(scope="module")
def case():
    params, Xb, Yb = mb.make_case(seed=5, hidden=16, N=12)
    loss, cache = mb.forward(params, Xb, Yb)
    return params, Xb, Yb, cache, makemore(params | {"Xb": Xb})


STACKS = {
    "dense": lambda: (tc.Network.random([3, 5, 2], hidden="tanh", output="softmax",
                                        loss="cross_entropy", seed=1),
                      RNG.normal(size=(4, 3)), RNG.integers(2, size=4)),
    "conv": lambda: (tc.Network.stack([tc.Conv2d(2, 3, padding=1), "tanh", tc.MaxPool2d(2),
                                       tc.Flatten(), tc.Dense(3)], input_shape=(1, 4, 4),
                                      loss="nll", seed=2),
                     RNG.normal(size=(3, 1, 4, 4)), RNG.integers(3, size=3)),
    "residual": lambda: (tc.Network.stack([tc.Dense(3), tc.Residual([tc.Dense(3), "tanh"]),
                                           tc.Dense(2)], input_shape=(2,), seed=3),
                         RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))),
}


@pytest.mark.parametrize("name", STACKS)
def test_every_method_gives_the_same_intermediates(name):
    net, x, y = STACKS[name]()
    full = tc.backprop(net, x, y, intermediates=True)
    assert sorted(full.intermediates) == list(range(1, len(net.layers) + 1))
    for method, tol in (("dense", 1e-12), ("shortcut", 1e-12), ("numeric", 1e-5)):
        other = tc.backprop(net, x, y, method, intermediates=True).intermediates
        for layer, d in full.intermediates.items():
            np.testing.assert_allclose(other[layer].dense(), d.dense(), rtol=tol,
                                       atol=tol * max(1.0, np.abs(d.dense()).max()),
                                       err_msg=f"{method}, layer {layer}")
    last = full.intermediates[len(net.layers)].dense()
    np.testing.assert_allclose(last, net.loss_fn.gradient(net(x), net.loss_fn.targets(
        net(x), y)), rtol=1e-13)
    assert tc.backprop(net, x, y).intermediates == {}


def test_against_torch_retained_gradients(case):
    torch = pytest.importorskip("torch")
    params, Xb, Yb, _, net = case
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    emb = t["C"][torch.tensor(Xb)]
    embcat = emb.reshape(emb.shape[0], -1)
    hprebn = embcat @ t["W1"] + t["b1"]
    mean, var = hprebn.mean(0, keepdim=True), hprebn.var(0, keepdim=True, unbiased=True)
    hpreact = t["bngain"] * (hprebn - mean) / torch.sqrt(var + 1e-5) + t["bnbias"]
    h = torch.tanh(hpreact)
    logits = h @ t["W2"] + t["b2"]
    probs = torch.softmax(logits, 1)
    outputs = [emb, embcat, hprebn, hpreact, h, logits, probs]
    for v in outputs:
        v.retain_grad()
    (-torch.log(probs[torch.arange(len(Yb)), torch.tensor(Yb)]).mean()).backward()
    ours = tc.backprop(net, Xb, Yb, intermediates=True).intermediates
    for layer, v in enumerate(outputs, 1):
        np.testing.assert_allclose(ours[layer].dense(), v.grad.numpy(), rtol=1e-9, atol=1e-14,
                                   err_msg=f"layer {layer}")


def test_a_correct_manual_backprop_passes_intermediate_by_intermediate(case):
    params, Xb, Yb, cache, net = case
    mine = mb.manual_backward(params, Xb, Yb, cache)
    report = tcs.assert_intermediates_match(mine, net, Xb, Yb, at=AT)
    assert report.ok and list(report.checks) == list(AT.values())


@pytest.mark.parametrize("bug, first, fine", [
    (mb.manual_backward_biased_bn, "dhprebn", ["dprobs", "dlogits", "dh", "dhpreact"]),
    (mb.manual_backward_tanh_wrong, "dhpreact", ["dprobs", "dlogits", "dh"]),
])
def test_the_first_wrong_intermediate_is_named(case, bug, first, fine):
    params, Xb, Yb, cache, net = case
    report = tc.testing.intermediates_check(bug(params, Xb, Yb, cache), net, Xb, Yb, AT)
    assert not report.ok
    assert report.diagnosis[0] == (f"{first} is where it goes wrong walking back from the "
                                   f"loss; {', '.join(fine)} match")
    with pytest.raises(AssertionError, match=f"{first} is where it goes wrong"):
        tcs.assert_intermediates_match(bug(params, Xb, Yb, cache), net, Xb, Yb, AT)


def test_missing_keys_and_wrong_shapes_are_named(case):
    params, Xb, Yb, cache, net = case
    mine = dict(mb.manual_backward(params, Xb, Yb, cache))
    report = tc.testing.intermediates_check(mine, net, Xb, Yb, {4: "dhpreakt", 6: "dlogits"})
    assert not report.ok and report.checks["dlogits"].ok
    assert report.problems == ["no ['dhpreakt'] among your intermediates (dhpreakt: did you "
                               "mean dhpreact, dhprebn?)."]
    assert report.diagnosis[0] == ("dhpreakt is where it goes wrong walking back from the "
                                   "loss; dlogits matches")
    with pytest.raises(AssertionError, match=r"no \['dhpreakt'\].*did you mean dhpreact"):
        tcs.assert_intermediates_match(mine, net, Xb, Yb, {4: "dhpreakt"})
    mine["dh"] = mine["dh"].T
    report = tc.testing.intermediates_check(mine, net, Xb, Yb, {5: "dh"})
    assert not report.ok and "dh has shape (16, 12); layer 5's output" in report.problems[0]
    mine["dh"] = mine["dh"].T.reshape(1, 12, 16)
    report = tc.testing.intermediates_check(mine, net, Xb, Yb, {5: "dh"})
    assert report.ok and "compared as layer 5's (12, 16)" in report.notes[0]


def test_swapped_keys_and_values_of_at_say_what_at_should_hold(case):
    params, Xb, Yb, cache, net = case
    grads = mb.manual_backward(params, Xb, Yb, cache)
    for check in (tc.testing.intermediates_check, tcs.assert_intermediates_match):
        with pytest.raises(tc.TensorcalcError) as err:
            check(grads, net, Xb, Yb, {"dlogits": 6})
        text = str(err.value)
        assert "layer index (an int in 1..7" in text and "swapped: pass {6: 'dlogits'}" in text
    with pytest.raises(tc.TensorcalcError, match="at must be a dict from layer index"):
        tc.testing.intermediates_check(grads, net, Xb, Yb, ["dlogits"])


def _torch_stack(name, net, x, y):
    """The stack's layer outputs in torch (float64) with their retained gradients."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    t = torch.tensor(x)
    if name == "dense":
        z1 = t @ p["W1"].T + p["b1"]
        a1 = torch.tanh(z1)
        z2 = a1 @ p["W2"].T + p["b2"]
        probs = torch.softmax(z2, 1)
        outs = [z1, a1, z2, probs]
        loss = -torch.log(probs[torch.arange(len(y)), torch.tensor(y)]).mean()
    else:
        c = F.conv2d(t, p["K1"], p["b1"], padding=1)
        a = torch.tanh(c)
        m = F.max_pool2d(a, 2)
        f = m.reshape(len(x), -1)
        z = f @ p["W2"].T + p["b2"]
        outs = [c, a, m, f, z]
        loss = F.cross_entropy(z, torch.tensor(y))
    for v in outs:
        v.retain_grad()
    loss.backward()
    return [v.grad.numpy() for v in outs]


@pytest.mark.parametrize("name", ["dense", "conv"])
def test_every_method_matches_torch_on_the_template_and_a_conv_stack(name):
    net, x, y = STACKS[name]()
    reference = _torch_stack(name, net, x, y)
    for method, tol in (("full", 1e-10), ("dense", 1e-10), ("shortcut", 1e-10),
                        ("numeric", 1e-6)):
        ours = tc.backprop(net, x, y, method, intermediates=True).intermediates
        assert len(ours) == len(reference) == len(net.layers)
        for layer, want in enumerate(reference, 1):
            assert ours[layer].shape == want.shape == net.forward(x).records[layer - 1].ctx.y.shape
            np.testing.assert_allclose(ours[layer].dense(), want, rtol=tol, atol=tol,
                                       err_msg=f"{method}, layer {layer}")


def test_torch_arrays_pass_and_a_planted_error_names_the_earliest_wrong_one():
    net, x, y = STACKS["conv"]()
    grads = _torch_stack("conv", net, x, y)
    keys = ["dconv", "dact", "dpool", "dflat", "dlogits"]
    student = dict(zip(keys, grads))
    at = {l: k for l, k in enumerate(keys, 1)}
    assert tcs.assert_intermediates_match(student, net, x, y, at=at).ok
    student["dpool"] = 2 * student["dpool"]  # wrong here, and so everything below it
    student["dact"] = 2 * student["dact"]
    with pytest.raises(AssertionError) as err:
        tcs.assert_intermediates_match(student, net, x, y, at=at)
    assert ("dpool is where it goes wrong walking back from the loss; dlogits, dflat match"
            in str(err.value))
    report = tc.testing.intermediates_check(student, net, x, y, {3: "dpool", 4: "dflat"})
    assert report.diagnosis[0].endswith("; dflat matches") and report.wrong == ["dpool"]


def test_a_wrong_shape_counts_where_it_is_met_and_only_outer_singletons_are_forgiven(case):
    params, Xb, Yb, cache, net = case
    mine = dict(mb.manual_backward_biased_bn(params, Xb, Yb, cache))  # dhprebn is wrong
    mine["dhpreact"] = mine["dhpreact"].T
    report = tc.testing.intermediates_check(mine, net, Xb, Yb, {4: "dhpreact", 3: "dhprebn"})
    assert report.diagnosis[0] == "dhpreact is where it goes wrong walking back from the loss"
    assert "dhpreact has shape (16, 12)" in report.problems[0]
    mine = dict(mb.manual_backward(params, Xb, Yb, cache))
    mine["dh"] = mine["dh"].reshape(12, 1, 16)  # an inner singleton is another shape
    assert not tc.testing.intermediates_check(mine, net, Xb, Yb, {5: "dh"}).ok
    mine["dh"] = mine["dh"].reshape(12, 16, 1)
    assert tc.testing.intermediates_check(mine, net, Xb, Yb, {5: "dh"}).ok
