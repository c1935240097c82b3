"""The drill-down: one event in full, as evidence.

A responder needs the who/what/where at a glance, the record exactly as CloudTrail wrote
it (not a re-serialisation that could hide or reorder fields), where those bytes live and
their hash, and the calls around it.  Every value is a way onward: Enter adds it to the
query, `c` copies it (OSC 52, so it works over SSH).  The summary and the related calls
come from `ddbtrail.views`; nothing here interprets CloudTrail.
"""
from __future__ import annotations

import numpy as np
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from ddbtrail import views
from ddbtrail.events import EventTable
from ddbtrail.text import printable
from tui.actions import bindings, help_rows
from tui.messages import AddTerm, ToggleMark

#: Longest value shown in a list line; the full value is still what Enter and `c` use.
VALUE_CHARS = 200
#: Related calls listed per group, nearest in time first: a busy key can have thousands.
RELATED_LIMIT = 50


def record_text(raw: bytes) -> str:
    """The record's JSON text as in the source, with control characters made visible.

    Line breaks are kept so a pretty-printed source record reads as it was written.
    """
    text = raw.decode("utf-8", errors="replace")
    return "\n".join(printable(line) for line in text.split("\n"))


class _ValueLine:
    """`label` padded to `width`, then `value` wrapped in the rest of the line with a hanging
    indent.  Option lists render each prompt several times per layout; a one-row Table.grid
    did the same at several times the cost, most of the time it took to open an event."""

    def __init__(self, label: Text, width: int, value: Text) -> None:
        self.label, self.width, self.value = label, width, value

    def __rich_console__(self, console, options):
        lines = self.value.wrap(console, max(1, options.max_width - self.width - 1))
        indent = Text(" " * (self.width + 1))
        first = self.label.copy()
        first.pad_right(self.width + 1 - first.cell_len)
        yield Text("\n").join(Text.assemble(first if i == 0 else indent, line)
                               for i, line in enumerate(lines))


class DrilldownScreen(Screen):
    """Summary, verbatim record, source and related calls of one event."""

    BINDINGS = bindings("drilldown")
    DEFAULT_CSS = """
    DrilldownScreen { layout: horizontal; }
    DrilldownScreen #side { width: 50%; min-width: 40; }
    DrilldownScreen.-narrow { layout: vertical; }
    DrilldownScreen.-narrow #side { width: 100%; height: auto; max-height: 60%; }
    DrilldownScreen #values { height: auto; max-height: 16; }
    DrilldownScreen.-narrow #values { max-height: 9; }
    DrilldownScreen #related { height: auto; max-height: 14; }
    DrilldownScreen .heading { text-style: bold; color: $accent; padding: 0 1; }
    DrilldownScreen #source { padding: 0 1; height: auto; }
    DrilldownScreen #record { width: 1fr; }
    DrilldownScreen #keys { dock: bottom; height: 1; background: $panel; }
    """

    def __init__(self, table: EventTable, row: int, app_marks: set[int]) -> None:
        super().__init__()
        self.marks = app_marks
        self._read(table, row)

    def _read(self, table: EventTable, row: int) -> None:
        """What the screen shows for `row`: the core's summary and related calls, the raw text."""
        self.table, self.row = table, row
        #: (label, query field or None, value) in display order, one per summary line.
        self.values = [entry for entries in views.event_summary(table, row).values() for entry in entries]
        self.related = views.related_rows(table, row)
        try:
            self.raw: bytes | None = table.raw([row])[0]
            self.unreadable = ""
        except (OSError, LookupError) as error:   # source moved or deleted since loading
            self.raw, self.unreadable = None, f"record text unavailable: {printable(str(error))}"

    def show_event(self, table: EventTable, row: int) -> None:
        """Show another event in this (already built) screen: re-using it keeps opening an
        event fast, since building a screen's widgets and styles costs far more than this."""
        self._read(table, row)
        self.query_one("#title", Label).update(self._title())
        self.query_one("#values", OptionList).set_options(self._value_options()).highlighted = 0
        self.query_one("#source", Static).update(self._source_text())
        self.query_one("#related", OptionList).set_options(self._related_options())
        self.query_one("#json", Static).update(self._record())
        self.query_one("#record", VerticalScroll).scroll_home(animate=False)
        self.query_one("#side", VerticalScroll).scroll_home(animate=False)
        self.query_one("#values", OptionList).focus()

    # -- layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="side"):
            yield Label(self._title(), id="title", classes="heading", markup=False)
            yield OptionList(*self._value_options(), id="values")
            yield Label("Source", classes="heading")
            yield Static(self._source_text(), id="source", markup=False)
            yield Label("Related calls", classes="heading")
            yield OptionList(*self._related_options(), id="related")
        with VerticalScroll(id="record"):
            yield Static(self._record(), id="json", markup=False)
        yield Static(self._keys(), id="keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#values", OptionList).focus()

    def _record(self) -> Text | Syntax:
        if self.raw is None:
            return Text(printable(self.unreadable), style="red")
        return Syntax(record_text(self.raw), "json", word_wrap=True, theme="ansi_dark")

    def on_resize(self) -> None:
        self.set_class(self.size.width < 110, "-narrow")

    def _title(self, marked: bool | None = None) -> Text:
        df = self.table.df
        marked = self.row in self.marks if marked is None else marked
        mark = "  ● marked" if marked else ""
        return Text(f"{df['time'].iat[self.row]:%Y-%m-%d %H:%M:%S} UTC  "
                    f"{printable(str(df['operation'].iat[self.row]), 60)}{mark}")

    def _value_options(self) -> list[Option]:
        """One line per value: label column, then the value wrapping in its own column."""
        width = max(len(label) for label, _, _ in self.values)
        return [Option(_ValueLine(Text(label, style="bold"), width,
                                  Text(printable(value, VALUE_CHARS), style="" if field else "dim",
                                       overflow="fold")), id=f"value-{i}")
                for i, (label, field, value) in enumerate(self.values) if value]

    def _source_text(self) -> Text:
        df = self.table.df
        source = self.table.sources[int(df["_source"].iat[self.row])]
        return Text.assemble(
            ("file   ", "bold"), printable(source.name), "\n",
            ("record ", "bold"), f"#{int(df['position'].iat[self.row])} "
                                 f"(bytes {int(df['offset'].iat[self.row])}+{int(df['length'].iat[self.row])})\n",
            ("sha256 ", "bold"), source.sha256 or "not computed",
        )

    def _related_options(self) -> list[Option]:
        """Each group of `views.related_rows` under a heading line that cannot be picked."""
        df = self.table.df
        options = []
        for group, rows in self.related.items():
            nearest = views.nearest_rows(self.table, rows, self.row, RELATED_LIMIT)
            shown = f", {len(nearest)} nearest shown" if len(nearest) < len(rows) else ""
            options.append(Option(Text(f"{group.replace('_', ' ')} ({len(rows)}{shown})", style="italic"),
                                  disabled=True))
            for r in map(int, nearest):
                error = str(df["error"].iat[r])
                options.append(Option(Text.assemble(
                    f"{df['time'].iat[r]:%m-%d %H:%M:%S} ",
                    (printable(str(df["operation"].iat[r]), 30).ljust(18), "bold"),
                    printable(str(df["tables"].iat[r]), 40), " ",
                    (printable(error, 40), "red") if error else "",
                ), id=f"related-{group}-{r}"))
        return options

    @staticmethod
    def _keys() -> Text:
        """The key line, from the actions registry (one Static: a Footer costs a widget per key)."""
        keys = Text(no_wrap=True, overflow="ellipsis")
        for scope, key, description in help_rows():
            if scope == "drilldown":
                keys.append(f" {key} ", style="bold reverse")
                keys.append(f" {description}  ")
        return keys

    # -- actions -----------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option_list)

    def action_pick(self) -> None:
        self._choose(self._active_list())

    def _active_list(self) -> OptionList:
        focused = self.focused
        return focused if isinstance(focused, OptionList) else self.query_one("#values", OptionList)

    def _choose(self, option_list: OptionList) -> None:
        """A value becomes a query term (and we go back to the results); a related call opens."""
        option = option_list.highlighted_option
        if option is None:
            return
        if option.id.startswith("related-"):
            row = int(option.id.rpartition("-")[2])
            self.app.push_screen(DrilldownScreen(self.table, row, self.marks))
            return
        _, field, value = self.values[int(option.id.removeprefix("value-"))]
        if field is None:
            self.notify("this value is not a query field; c copies it", timeout=3)
            return
        self.app.post_message(AddTerm(field, value))
        self.dismiss()

    def action_copy_value(self) -> None:
        option = self.query_one("#values", OptionList).highlighted_option
        if option is not None:
            value = self.values[int(option.id.removeprefix("value-"))][2]
            self.app.copy_to_clipboard(value)
            self.notify(f"copied {len(value):,} characters", timeout=2)

    def action_copy_record(self) -> None:
        if self.raw is None:
            self.notify(self.unreadable, severity="error", markup=False)
            return
        self.app.copy_to_clipboard(self.raw.decode("utf-8", errors="replace"))
        self.notify(f"copied the record ({len(self.raw):,} bytes)", timeout=2)

    def action_mark(self) -> None:
        marked = self.row not in self.marks      # what the app's ToggleMark is about to make it
        self.app.post_message(ToggleMark(self.row))
        self.query_one("#title", Label).update(self._title(marked))

    def action_close(self) -> None:
        self.dismiss()
