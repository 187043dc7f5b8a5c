"""Regenerate docs/errors.md from the cases in tests/test_hardening.py.

Run from the repository root: python docs/make_errors_table.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = """# Bad input and the error it gets

Every public entry point checks its input and raises a `TensorcalcError` subclass (also a
`ValueError`) that names the problem, the shapes or names involved, and a fix. Each row below is
a case in `tests/test_hardening.py`; the message shown is the one the library prints
(regenerate this page with `python docs/make_errors_table.py`).

| input | error | message |
|---|---|---|
"""

FOOTER = """
Integer and boolean arrays are not errors: they are cast to float64. float32 arrays are kept
as float32 end to end, and compared with float32 tolerances (see the README). A network's
parameters are read-only (`net.params["W1"] = ...` raises `TypeError`); build a changed network
with `net.with_param("W1", new_value)`.
"""


def main() -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_hardening import ROWS

    rows = []
    for what, call, error, _ in ROWS:
        try:
            call()
        except error as err:
            message = str(err).replace("|", "\\|").replace("\n", " ")
        else:
            raise SystemExit(f"no error for: {what}")
        if len(message) > 220:
            message = message[:217] + "..."
        rows.append(f"| {what} | `{error.__name__}` | {message} |")
    (ROOT / "docs" / "errors.md").write_text(HEADER + "\n".join(rows) + "\n" + FOOTER)
    print(f"wrote {len(rows)} rows to docs/errors.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
