"""The LookupEvents banner: say plainly what this source cannot show.

LookupEvents has management events only, so a console fed from it shows no GetItem, Scan or
PutItem at all.  Without a warning a responder could read "no Scan" as "nobody scanned";
the banner says why, and how to load the data events (the trail's S3 logs).
The wording is the loader's (`MANAGEMENT_ONLY_NOTICE`), so CLI and console say the same;
`loaders.lookup` is imported only when a banner may be due, since it pulls in boto3
(~0.15 s of `ddbtrail demo` start-up otherwise).
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def wants_banner(specs: list[str], notes: list[str] = ()) -> bool:
    """True when a source is LookupEvents (by its spec, or by the load report's notes)."""
    if "lookup" in specs:
        return True
    if not notes:
        return False
    from loaders.lookup import MANAGEMENT_ONLY_NOTICE
    return MANAGEMENT_ONLY_NOTICE in notes


class LookupBanner(Static):
    """A warning strip above the panes while LookupEvents is among the sources."""

    DEFAULT_CSS = """
    LookupBanner { height: auto; max-height: 4; padding: 0 1; background: $warning 25%;
                   color: $text; }
    """

    def __init__(self, *, id: str | None = "lookup-banner") -> None:
        from loaders.lookup import MANAGEMENT_ONLY_NOTICE
        super().__init__(Text.assemble(("⚠ Item-level activity is missing. ", "bold"),
                                       MANAGEMENT_ONLY_NOTICE), id=id, markup=False)
