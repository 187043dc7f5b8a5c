"""The core: labelled einsum networks (Derivative), the chain rule, contraction, layouts and
rendering. It knows nothing of layers or networks."""
