"""Facet panes: counts for the current query, Enter/! add terms, lower facet cycles."""
from __future__ import annotations

from conftest import ROLE, shown
from tui.app import DdbTrailApp
from tui.event_table import EventTableView
from tui.facets import FacetPane
from tui.query_line import QueryLine


def _lines(pane: FacetPane) -> list[str]:
    """The pane's visible lines as "count value"."""
    return [line[1:].rstrip() for line in shown(pane) if line.strip()]


def _pane(app, column: str) -> FacetPane:
    return app.query_one(f"#facet-{column}", FacetPane)


async def test_panes_list_counts_highest_first(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)):
        principal = _pane(app, "principal")
        assert principal.values == [f"{ROLE}OrdersService", f"{ROLE}ReportingJob"]
        # long ARNs keep their informative tail when the pane is narrower than them
        first, second = _lines(principal)
        assert first.startswith("40 ") and first.endswith(":role/OrdersService")
        assert second.startswith("17 ") and second.endswith(":role/ReportingJob")
        assert _lines(_pane(app, "tables")) == ["40 Orders", "12 PatientRecords", " 5 CaseFiles"]
        assert _lines(_pane(app, "operation"))[0] == "20 GetItem"
        assert _lines(_pane(app, "lower")) == ["52 (none)", " 5 AccessDenied"]


async def test_enter_adds_term_and_every_pane_recounts(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        principal = _pane(app, "principal")
        principal.focus()
        await pilot.press("down", "enter")
        await pilot.pause()
        assert "principal:" in app.query_text and "ReportingJob" in app.query_text
        assert app.query_one(QueryLine).input.value == app.query_text
        assert _lines(_pane(app, "tables")) == ["12 PatientRecords", " 5 CaseFiles"]
        assert _lines(_pane(app, "operation")) == ["12 Scan", " 5 DescribeTable"]
        assert len(app.query_one(EventTableView).order) == 17


async def test_bang_excludes_value(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        tables = _pane(app, "tables")
        tables.focus()
        await pilot.press("exclamation_mark")
        await pilot.pause()
        assert app.query_text.startswith("-table:") and "Orders" in app.query_text
        assert _lines(tables) == ["12 PatientRecords", " 5 CaseFiles"]
        assert int(app.mask.sum()) == 17


async def test_lower_facet_cycles_error_ip_user_agent_region(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        lower = _pane(app, "lower")
        seen = []
        for _ in range(4):
            seen.append((lower.border_title, _lines(lower)[0]))
            await pilot.press("f")
        assert seen == [("error", "52 (none)"), ("ip", "40 10.0.0.5"),
                        ("user agent", "40 aws-sdk-java/2.20"), ("region", "52 us-gov-west-1")]
        assert lower.border_title == "error"
