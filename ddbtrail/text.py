"""Safe text for strings that came out of a CloudTrail record.

userAgent, errorMessage, principal names and request parameters are chosen by whoever made
the call, so they are hostile: an ESC or OSC 52 sequence would drive the responder's
terminal, a right-to-left override would make `evil.exe` read as `exe.live`, a 10 kB string
would swamp a pane.  `printable` makes all of that visible instead of acting on it.

Rich markup (`[bold]`, `[link=…]`) is deliberately NOT escaped here: the console builds
`rich.text.Text(plain)`, which never parses markup, and the CLI prints plain text.  Escaping
it here as well would show responders backslashes that are not in the record.
"""
from __future__ import annotations

import re

# C0 controls show as their Unicode "control picture" (U+2400 + code: ESC -> ␛, BEL -> ␇),
# DEL as ␡, C1 controls (no pictures exist) as \xNN.
_CONTROLS = {code: chr(0x2400 + code) for code in range(0x20)}
_CONTROLS[0x7F] = "\u2421"
_CONTROLS.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})

# Invisible characters that change how text reads: bidi controls (U+202A-202E, U+2066-2069,
# U+200E/F, U+061C), zero-width characters (U+200B-200D, U+2060, U+FEFF), every other
# "format" character (soft hyphen, tag characters used to smuggle text), line/paragraph
# separators and lone surrogates (which cannot even be encoded for the terminal).
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\ud800-\udfff]"
)


def _token(match: re.Match) -> str:
    return f"<U+{ord(match.group()):04X}>"


def printable(s: str, max_len: int | None = None) -> str:
    """Return `s` with every control and invisible character made visible, never removed.

    With `max_len`, at most that many characters of `s` are kept and the rest is counted:
    `"aaaa… (+9,876 chars)"`, so a responder knows the value was cut and by how much.
    """
    cut = 0
    if max_len is not None and len(s) > max_len:
        cut = len(s) - max_len
        s = s[:max_len]
    if not s.isprintable():  # fast path: ordinary text (the vast majority) is returned as is
        s = _INVISIBLE.sub(_token, s.translate(_CONTROLS))
    return f"{s}… (+{cut:,} chars)" if cut else s


# OWASP "CSV Injection": a cell starting with one of these is run as a formula by
# spreadsheets.  Leading whitespace is checked through as well, because some spreadsheet
# importers trim it before deciding that a cell is a formula.
_FORMULA_START = re.compile(r"\s*[=+\-@\t\r]")


def csv_safe(s: str) -> str:
    """Return `s` prefixed with `'` if a spreadsheet would treat it as a formula."""
    return "'" + s if _FORMULA_START.match(s) else s
