"""The core (`ddbtrail/`) must work headless: the CLI, exports and tests import it without
Textual, and keeping the UI out of it keeps the data flow one-way."""
import re
import subprocess
import sys
from pathlib import Path

import ddbtrail

PACKAGE = Path(ddbtrail.__file__).parent


def core_modules() -> list[str]:
    return ["ddbtrail"] + sorted(
        "ddbtrail." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")


def test_every_core_module_is_found():
    modules = core_modules()
    assert {"ddbtrail.events", "ddbtrail.query", "ddbtrail.views", "ddbtrail.text"} <= set(modules)


def test_importing_the_whole_core_does_not_load_textual():
    modules = core_modules()
    code = (f"import sys\nfor name in {modules!r}:\n    __import__(name)\n"
            "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            "print(loaded)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=PACKAGE.parent, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_core_source_imports_textual():
    pattern = re.compile(r"^\s*(import\s+textual\b|from\s+textual\b)", re.MULTILINE)
    offenders = [str(path) for path in PACKAGE.rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []


def test_layers_import_only_downstream():
    """The core never talks to AWS (no boto3) and nothing outside tui/ imports the console."""
    root = PACKAGE.parent
    boto = re.compile(r"^\s*(import\s+(boto3|botocore)\b|from\s+(boto3|botocore)\b)", re.MULTILINE)
    console = re.compile(r"^\s*(import\s+tui\b|from\s+tui\b)", re.MULTILINE)
    assert [str(p) for p in PACKAGE.rglob("*.py") if boto.search(p.read_text())] == []
    assert [str(p) for p in (root / "loaders").rglob("*.py") if console.search(p.read_text())] == []
    assert [str(p) for p in PACKAGE.rglob("*.py") if console.search(p.read_text())] == []


def test_loaders_use_only_the_cores_data_model():
    """Loaders fetch and normalise; judging (query, views, coverage analysis) is the core's."""
    core = re.compile(r"^\s*(?:from|import)\s+ddbtrail\.(\w+)", re.MULTILINE)
    used = {(p.name, m) for p in (PACKAGE.parent / "loaders").rglob("*.py") for m in core.findall(p.read_text())}
    assert {module for _, module in used} <= {"events", "timeparse"}, sorted(used)
