"""Hostile record strings are made visible (never acted on, never dropped) and CSV-safe."""
import sys
import unicodedata

import pytest
from rich.console import Console
from rich.text import Text

from ddbtrail.text import csv_safe, printable


def test_ordinary_text_is_unchanged():
    for s in ["", "aws-cli/2.15.0 Python/3.11", "arn:aws-us-gov:iam::123456789012:role/Ops",
              "Zugriff verweigert für Benutzer", "表 PatientRecords", "שלום", "a b\u00e9c"]:
        assert printable(s) == s


def test_osc52_clipboard_write_and_title_set_are_shown_not_sent():
    osc52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
    title = "\x1b]0;pwned\x1b\\"
    out = printable(f"ua{osc52}{title}end")
    assert out == "ua␛]52;c;cm0gLXJmIH4=␇␛]0;pwned␛\\end"
    assert "\x1b" not in out and "\x07" not in out


def test_csi_sequences_and_bel_are_visible():
    assert printable("\x1b[2J\x1b[31mred\x1b[0m\x07") == "␛[2J␛[31mred␛[0m␇"


def test_every_c0_c1_and_del_character_is_made_visible():
    for code in list(range(0x20)) + [0x7F] + list(range(0x80, 0xA0)):
        out = printable(f"a{chr(code)}b")
        assert out.startswith("a") and out.endswith("b") and len(out) > 2
        assert all(unicodedata.category(c) != "Cc" for c in out), hex(code)
    assert printable("\x00\t\n\r") == "␀␉␊␍"
    assert printable("\x7f") == "␡"
    assert printable("\x9b31m") == "\\x9b31m"  # C1 CSI, a one-byte escape on some terminals


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
                                  "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c",
                                  "\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"])
def test_bidi_and_zero_width_characters_become_tokens(char):
    assert printable(f"x{char}y") == f"x<U+{ord(char):04X}>y"


def test_trojan_source_override_cannot_reorder_the_text():
    assert printable("invoice\u202efdp.exe") == "invoice<U+202E>fdp.exe"


def test_all_format_separator_and_surrogate_characters_are_covered():
    hidden = [chr(c) for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp", "Cs")]
    assert len(hidden) > 2000
    joined = "".join(hidden)
    out = printable(joined)
    assert out == "".join(f"<U+{ord(c):04X}>" for c in hidden)
    out.encode("utf-8")  # lone surrogates would make the terminal write raise


def test_ascii_smuggling_with_tag_characters_is_visible():
    smuggled = "".join(chr(0xE0000 + ord(c)) for c in "hi")
    assert printable("ok" + smuggled) == "ok<U+E0068><U+E0069>"


def test_rich_markup_is_left_for_text_plain_to_show_literally():
    hostile = "[bold red]ALERT[/] [link=https://evil.example]x[/link] [/]"
    assert printable(hostile) == hostile
    console = Console(width=200, color_system=None, record=True)
    console.print(Text(printable(hostile)))
    assert console.export_text().strip() == hostile


def test_long_strings_are_truncated_with_the_original_length():
    s = "A" * 10_000
    out = printable(s, max_len=124)
    assert out == "A" * 124 + "… (+9,876 chars)"
    assert printable(s, max_len=10_000) == s
    assert printable("abc", max_len=3) == "abc"
    assert printable("abcd", max_len=3) == "abc… (+1 chars)"


def test_truncation_counts_source_characters_and_still_escapes():
    out = printable("\x1b" * 5000, max_len=3)
    assert out == "␛␛␛… (+4,997 chars)"


def test_ten_kilobyte_hostile_string():
    chunk = "\x1b]52;c;AAAA\x07\u202e[bold]\x00\u200b"
    s = (chunk * 1000)[:10_240]
    out = printable(s)
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\x00" not in out
    assert out.count("␛") == s.count("\x1b")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1",
                                  "=HYPERLINK(\"http://evil\",\"x\")", "-2+3+cmd|' /C calc'!A0",
                                  "  =1+1", "\u00a0@x", "\n=1"])
def test_csv_formula_starts_are_neutralised(cell):
    assert csv_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "Scan", "arn:aws:iam::1:role/x", "a=b", "1-2", "x@y",
                                  "  spaced", "'quoted"])
def test_csv_harmless_cells_are_unchanged(cell):
    assert csv_safe(cell) == cell
