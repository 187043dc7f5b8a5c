"""How a derivative shows itself: index notation, LaTeX, matrix notation, notebook reprs and
its one-line repr, all read off its terms (a mixin of :class:`Derivative`)."""

from __future__ import annotations

from . import html as _html
from . import matrix as _matrix
from . import render as _render
from .term import Term


class Rendered:
    """The display methods of a derivative; they read ``terms``, ``of``, ``wrt``, ``_letters``
    and ``_axes``."""

    __slots__ = ()

    @property
    def index_letters(self) -> tuple[str, str]:
        """The index letters of the output and input axes as the formulas write them (a
        delta's input side gets a fresh letter: ``dz_i/dW_kj``)."""
        taken = {c for t in self.terms for c in t.axis_labels} | {
            c for t in self.terms for c in t.factor_labels}
        letters = _render.axis_letters(self._letters, taken)
        k = len(self.out_labels)
        return letters[:k], letters[k:]

    def _term_data(self):
        return [(t.coef, t.out_labels, t.in_labels, [(f.symbol, f.labels) for f in t.factors],
                 t.relations) for t in self.terms]

    def index_notation(self) -> str:
        """The entry formula in index notation, e.g. ``dz_i/dW_kj = a_j delta_ik``."""
        return _render.index_notation(self.of, self.wrt, self._letters, self._term_data())

    def latex(self) -> str:
        """The entry formula as LaTeX (see :meth:`index_notation`)."""
        return _render.latex(self.of, self.wrt, self._letters, self._term_data())

    def matrix_notation(self) -> str | None:
        """The contraction in matrix notation (``W^2T delta^2``, ``delta a^T``, ``x (.) y``,
        ``diag(p) - p p^T``) when it is made of matrix products, transposes, outer and Hadamard
        products; else None."""
        terms = []
        if any(t.relations for t in self.terms):
            return None
        for t in self.terms:
            target = "".join(t.axis_labels[r] for r in self._axes)
            if len(set(target)) < len(target) and not (len(target) == 2 and t.out_labels):
                return None
            terms.append((t.coef, [(f.symbol, f.labels) for f in t.factors], target))
        return _matrix.sum_notation(terms)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _repr_html_(self) -> str:
        return _html.derivative_html(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(repr(self))

    def __repr__(self) -> str:
        def factors(t: Term) -> str:
            return " ".join(f"{f.symbol}[{f.labels}]" for f in t.factors) or "(none)"

        if len(self.terms) == 1:
            t = self.terms[0]
            body = (f"labels {t.out_labels or '-'}|{t.in_labels or '-'}; "
                    f"factors {factors(t)}")
        else:
            body = "terms " + " ".join(
                f"{'-' if t.coef < 0 else '+'}{'' if abs(t.coef) == 1 else f'{abs(t.coef):g}*'}"
                f"[{t.out_labels or '-'}|{t.in_labels or '-'}: {factors(t)}]"
                for t in self.terms)
        zeros = self.structural_zero_fraction
        return (f"<Derivative {self.kind} {self.name}: out {self.out_shape} "
                f"in {self.in_shape}, {self.structure}, {self.nbytes_dense:,} B when dense "
                f"({_render.percent(zeros)} structural zeros); {body}>")
