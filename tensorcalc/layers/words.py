"""Reading one layer's option words in the one-line grammar (``conv 4 3 stride 2 nobias``).

A kind's ``from_words`` reads its words with :class:`Words`: required and optional values in
order, flags (``nobias``), and ``name V`` options with their short forms (``stride 2`` or
``s2``); :meth:`Words.done` then rejects any word left over, naming it and the kind's grammar
(``Layer.grammar``), so no word is ever dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import TensorcalcError
from .windowing import axis_value


class Words:
    """The option words of one layer, consumed as the kind reads them."""

    def __init__(self, layer: type, words) -> None:
        self.grammar = (layer.grammar or "{kind}").format(kind=layer.kind)
        self.rest = list(words)

    def error(self, problem: str) -> TensorcalcError:
        return TensorcalcError(f"{problem}; this layer is written '{self.grammar}'.")

    def _convert(self, word: str, what: str, convert: Callable):
        try:
            return convert(word)
        except ValueError:
            raise self.error(f"{what} must be {_NUMBERS.get(convert, 'a number')}; got "
                             f"{word!r}") from None

    def value(self, what: str, convert: Callable = int):
        """The next word, which must be there: ``what`` names it in the error."""
        if not self.rest:
            raise self.error(f"{what} is missing")
        return self._convert(self.rest.pop(0), what, convert)

    def optional(self, convert: Callable, default=None):
        """The next word when ``convert`` reads it, else ``default`` (the word stays)."""
        if self.rest:
            try:
                value = convert(self.rest[0])
            except ValueError:
                return default
            self.rest.pop(0)
            return value
        return default

    def flag(self, name: str) -> bool:
        """Whether the word ``name`` is there (it is consumed)."""
        if name in self.rest:
            self.rest.remove(name)
            return True
        return False

    def option(self, name: str, convert: Callable, short: bool = True):
        """The value of ``name V`` (or, when ``short``, of ``nV`` with n the name's first
        letter and V starting with a digit), or None when neither is there."""
        for k, word in enumerate(self.rest):
            if word == name:
                if k + 1 == len(self.rest):
                    raise self.error(f"{name!r} needs a value after it, e.g. '{name} 2'")
                value = self.rest[k + 1]
                del self.rest[k:k + 2]
                return self._convert(value, f"the {name}", convert)
            if short and word[:1] == name[0] and word[1:2].isdigit():
                del self.rest[k]
                return self._convert(word[1:], f"the {name}", convert)
        return None

    def done(self) -> None:
        """Reject what no reader took: an unknown, repeated or extra word."""
        if self.rest:
            more = len(self.rest) - 1
            raise self.error(f"unknown or extra word {self.rest[0]!r}"
                             + (f" (and {more} more after it)" if more else ""))


_NUMBERS = {int: "a whole number", float: "a number",
            axis_value: "a whole number, or one per axis such as 3x2"}
