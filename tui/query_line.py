"""The query line: the whole truth of what is shown.

Text is parsed by `ddbtrail.query.parse` on every keystroke so a mistake is pointed at
where it is; only Enter on text that parses applies it, so the last valid query stays on
screen while the responder types.
"""
from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Input, Static

from ddbtrail.query import QueryError, parse
from ddbtrail.text import printable
from tui.actions import bindings
from tui.messages import QuerySubmitted


class QueryInput(Input):
    """The editable line, with history on up/down."""

    BINDINGS = bindings("query")

    def __init__(self, **kwargs):
        super().__init__(placeholder="/ to filter: table:Orders op:Scan error:* -principal:*Job* after:-2h",
                         compact=True, **kwargs)
        self.history: list[str] = []
        self._recall = 0   # how far back in history, 0 = the line being typed

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._recall = 0

    def action_history(self, step: int) -> None:
        """Older (-1) or newer (+1) query from history."""
        recall = min(len(self.history), max(0, self._recall - step))
        if recall != self._recall:
            self._recall = recall
            self.value = self.history[-recall] if recall else ""
            self.cursor_position = len(self.value)

    def action_leave(self) -> None:
        self.app.action_focus_table()


class QueryLine(Vertical):
    """Input plus a line that marks where the text stops parsing, and why."""

    DEFAULT_CSS = """
    QueryLine { height: auto; }
    QueryLine > #query-error { height: auto; color: $error; display: none; }
    QueryLine.-invalid > #query-error { display: block; }
    """

    def compose(self):
        yield QueryInput(id="query-input")
        yield Static("", id="query-error", markup=False)

    @property
    def input(self) -> QueryInput:
        return self.query_one(QueryInput)

    def set_text(self, text: str) -> None:
        """Show `text` (already applied by the app) and remember it."""
        self.input.value = text
        self.input.cursor_position = len(text)
        self.input.remember(text)
        self._check(text)

    def error_for(self, text: str) -> QueryError | None:
        try:
            parse(text)
        except QueryError as error:
            return error
        return None

    def _check(self, text: str) -> QueryError | None:
        error = self.error_for(text)
        self.set_class(error is not None, "-invalid")
        if error is not None:
            expected = f"; expected {error.expected}" if error.expected else ""
            self.query_one("#query-error", Static).update(Text.assemble(
                " " * error.position + "^ ", printable(error.message + expected),
                f" (column {error.position + 1})"))
        return error

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._check(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._check(event.value) is None:
            self.input.remember(event.value)
            self.post_message(QuerySubmitted(event.value))
