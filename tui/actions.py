"""The one registry of console actions.

Bindings, the help screen and the command palette are all generated from `ACTIONS`, so
a key shown in help is the key that works and every app action is in the palette.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True)
class Action:
    """One binding: `key` (Textual key name, comma-separated for alternatives) runs
    `action` (a Textual action string) while a widget of `scope` ("app" or a pane) has focus."""

    key: str
    action: str
    description: str
    scope: str
    show: bool = True


ACTIONS: list[Action] = [
    # app-wide
    Action("slash", "focus_query", "Query", "app"),
    Action("question_mark,f1", "help", "Help", "app"),
    Action("ctrl+p", "command_palette", "Palette", "app", show=False),
    Action("f", "cycle_facet", "Next facet", "app"),
    Action("t", "focus_table", "Table", "app", show=False),
    Action("T", "focus_timeline", "Timeline (brush, zoom, lanes)", "app", show=False),
    Action("M", "toggle_marked_only", "Marked only", "app"),
    Action("e", "export", "Export", "app"),
    Action("L", "coverage", "Logging coverage of the loaded tables", "app", show=False),
    Action("escape", "cancel_load", "Cancel loading", "app", show=False),
    Action("q", "quit", "Quit", "app"),
    # facet panes
    Action("enter", "include", "Filter to value", "facets"),
    Action("exclamation_mark", "exclude", "Exclude value", "facets"),
    Action("up", "move(-1)", "Previous value", "facets", show=False),
    Action("down", "move(1)", "Next value", "facets", show=False),
    Action("pageup", "page(-1)", "Page up", "facets", show=False),
    Action("pagedown", "page(1)", "Page down", "facets", show=False),
    Action("home", "first", "First", "facets", show=False),
    Action("end", "last", "Last", "facets", show=False),
    # event table
    Action("enter", "open", "Open event", "table"),
    Action("m", "mark", "Mark", "table"),
    Action("s", "cycle_sort", "Sort column", "table"),
    Action("r", "reverse_sort", "Reverse sort", "table"),
    Action("n", "next_error", "Next error", "table"),
    Action("N", "previous_error", "Previous error", "table"),
    Action("left_square_bracket", "first_error", "First error", "table", show=False),
    Action("right_square_bracket", "last_error", "Last error", "table", show=False),
    Action("up", "move(-1)", "Previous event", "table", show=False),
    Action("down", "move(1)", "Next event", "table", show=False),
    Action("pageup", "page(-1)", "Page up", "table", show=False),
    Action("pagedown", "page(1)", "Page down", "table", show=False),
    Action("g,home", "first", "First", "table", show=False),
    Action("G,end", "last", "Last", "table", show=False),
    # help screen
    Action("escape,q", "dismiss", "Close", "help"),
    # query line
    Action("escape", "leave", "Back to table", "query"),
    Action("up", "history(-1)", "Older query", "query", show=False),
    Action("down", "history(1)", "Newer query", "query", show=False),
    # timeline
    Action("plus,equals_sign", "zoom_in", "Zoom in", "timeline"),
    Action("minus", "zoom_out", "Zoom out", "timeline"),
    Action("left_square_bracket,left", "move_cursor(-1)", "Cursor earlier", "timeline"),
    Action("right_square_bracket,right", "move_cursor(1)", "Cursor later", "timeline"),
    Action("space,b", "anchor", "Start/stop selection", "timeline"),
    Action("enter", "pick", "Filter to selection", "timeline"),
    Action("escape", "clear_selection", "Clear selection", "timeline", show=False),
    Action("l", "toggle_lanes", "Principal lanes", "timeline"),
    # drill-down
    Action("enter", "pick", "Filter to value / open related", "drilldown"),
    Action("c", "copy_value", "Copy value", "drilldown"),
    Action("C", "copy_record", "Copy record", "drilldown"),
    Action("m", "mark", "Mark", "drilldown"),
    Action("escape,q", "close", "Back", "drilldown"),
    # export dialog, coverage screen
    Action("escape", "cancel", "Cancel", "export"),
    Action("escape,q", "close", "Back", "coverage"),
]


def bindings(scope: str) -> list[Binding]:
    """The BINDINGS of a widget (or the app) for `scope`."""
    return [Binding(a.key, a.action, a.description, show=a.show)
            for a in ACTIONS if a.scope == scope]


def help_rows() -> list[tuple[str, str, str]]:
    """(scope, keys as shown to people, description) for every action."""
    return [(a.scope, help_key(a), a.description) for a in ACTIONS]


_KEY_LABELS = {"slash": "/", "question_mark": "?", "exclamation_mark": "!", "plus": "+",
               "equals_sign": "=", "minus": "-", "left_square_bracket": "[",
               "right_square_bracket": "]"}


def help_key(a: Action) -> str:
    """The keys of an action as a person types them ("?, f1")."""
    return ", ".join(_KEY_LABELS.get(k, k) for k in a.key.split(","))


class ActionCommands(Provider):
    """Command palette entries for every app-scope action of the registry."""

    def _commands(self):
        for a in ACTIONS:
            if a.scope == "app" and a.action != "command_palette":
                yield a, partial(self.app.run_action, a.action)

    async def discover(self) -> Hits:
        for a, run in self._commands():
            yield DiscoveryHit(a.description, run, help=f"key: {help_key(a)}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for a, run in self._commands():
            score = matcher.match(a.description)
            if score > 0:
                yield Hit(score, matcher.highlight(a.description), run, help=f"key: {help_key(a)}")

