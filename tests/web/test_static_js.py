"""The front end's shape, read from the files (no browser): one global, one place for scripts.

Our scripts (static/js) share one namespace, window.TSMetrics, created by tsmetrics.js; each
file is a single strict-mode function so that nothing else leaks to window. The browser
tests (tests/browser/test_pages.py) check the same at run time.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "static" / "js"
VENDOR = ROOT / "static" / "vendor"
TEMPLATES = ROOT / "templates"
SCRIPTS = sorted(JS.glob("*.js"))
NAMESPACE = "TSMetrics"
# Swagger UI's page is not a dashboard page: it loads its bundle and swagger-init.js only.
PAGE_SCRIPTS = [path.name for path in SCRIPTS if path.name != "swagger-init.js"]

_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\\])//[^\n]*", re.S)
_IIFE = re.compile(r'\A\(function \((\w*)\) \{\n  "use strict";\n.*\n\}\)\(([\w.]*)\);\n\Z', re.S)
# A write to a property of the global object: window.x = ..., globalThis["x"] += ...
_GLOBAL_WRITE = re.compile(
    r"\b(?:window|globalThis|self)\s*(?:\.\s*([\w$]+)|\[\s*['\"]?([^\]'\"]*)['\"]?\s*\])"
    r"\s*(?:[-+*/|&?]{0,3})=(?!=)"
)
_GLOBAL_DEFINE = re.compile(r"Object\.define\w*\(\s*(?:window|globalThis|self)\b")
_NAMED_FUNCTION = re.compile(r"\bfunction\s+([\w$]+)\s*\(|^\s*([\w$]+):\s*function\b", re.M)
_SCRIPT_SRC = re.compile(r"<script src=\"\{\{ url_for\('static', filename='([^']+)'\) \}\}\"")


def _code(path: Path) -> str:
    """The file without its comments (no string in our scripts holds // or /*)."""
    return _COMMENT.sub("", path.read_text())


def test_there_are_scripts_to_check():
    assert {"tsmetrics.js", "charts.js", "dashboard.js"} <= {path.name for path in SCRIPTS}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_each_script_is_one_strict_function(path):
    """Declarations stay inside it; strict mode turns a stray assignment into an error."""
    code = re.sub(r"\n\s*\n", "\n", _code(path)).lstrip("\n")
    match = _IIFE.match(code)
    assert match, f'{path.name}: wrap the file in (function () {{ "use strict"; ... }})();'
    parameter, argument = match.groups()
    assert (parameter, argument) in (("", ""), (NAMESPACE, f"window.{NAMESPACE}")), match.groups()
    top_level = [line for line in code.splitlines() if line and not line[0].isspace()]
    assert top_level == [top_level[0], top_level[-1]], f"{path.name}: code outside the function"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_no_global_but_the_namespace(path):
    code = _code(path)
    written = {a or b for a, b in _GLOBAL_WRITE.findall(code)}
    assert written <= {NAMESPACE}, f"{path.name} writes window.{written - {NAMESPACE}}"
    assert not _GLOBAL_DEFINE.search(code)
    if NAMESPACE in written:
        assert path.name == "tsmetrics.js", "only tsmetrics.js creates the namespace"


def test_the_namespace_has_one_author_per_part():
    """tsmetrics.js creates it; charts.js adds `charts`; nobody else writes to it."""
    writers = {}
    for path in SCRIPTS:
        for part in re.findall(rf"\b{NAMESPACE}\.([\w$]+)\s*=(?!=)", _code(path)):
            writers.setdefault(part, []).append(path.name)
    assert writers == {"charts": ["charts.js"]}


def test_helpers_are_defined_once():
    """No named function is written in two files: a shared helper lives in tsmetrics.js."""
    owners: dict[str, set[str]] = {}
    for path in SCRIPTS:
        for name in {a or b for a, b in _NAMED_FUNCTION.findall(_code(path))}:
            owners.setdefault(name, set()).add(path.name)
    assert {name: files for name, files in owners.items() if len(files) > 1} == {}


def test_only_charts_js_draws():
    drawers = [path.name for path in SCRIPTS if re.search(r"\bnew Chart\(", _code(path))]
    assert drawers == ["charts.js"]


def test_base_html_is_the_one_place_that_loads_the_scripts():
    """Every page extends base.html, which loads the same scripts, tsmetrics.js first of ours."""
    loaded = _SCRIPT_SRC.findall((TEMPLATES / "base.html").read_text())
    ours = [src.removeprefix("js/") for src in loaded if src.startswith("js/")]
    assert ours[0] == "tsmetrics.js" and sorted(ours) == sorted(PAGE_SCRIPTS)
    assert loaded.index("vendor/htmx/htmx.min.js") < loaded.index("js/tsmetrics.js")
    assert loaded.index("vendor/chartjs/chart.umd.min.js") < loaded.index("js/charts.js")
    others = {
        path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*.html")
        if "<script src=" in path.read_text() or "{% block scripts" in path.read_text()
    }
    assert others == {"base.html", "docs/swagger.html"}


def test_every_chart_frame_names_its_kind():
    """A data island sits in a frame with data-chart, which charts.js draws by."""
    for name in ("dashboard/_chart.html", "dashboard/_lift.html"):
        text = (TEMPLATES / name).read_text()
        assert re.search(r'<section class="[\w-]+" id="[^"]+"[^>]* data-chart="\w+"', text)
        assert '<script type="application/json"' in text and "data-chart-table" in text


@pytest.mark.parametrize(
    "folder", sorted(p for p in VENDOR.iterdir() if p.is_dir()), ids=lambda p: p.name
)
def test_vendored_assets_are_pinned_with_their_licence(folder):
    """SOURCE.md names the version and each served file's sha256; the licence sits beside it."""
    source = (folder / "SOURCE.md").read_text()
    version = json.loads((folder / "package.json").read_text())["version"]
    assert f" {version}" in source.splitlines()[0]
    assert any(path.name.startswith("LICENSE") for path in folder.iterdir())
    for asset in sorted(folder.glob("*.js")) + sorted(folder.glob("*.css")):
        digest = hashlib.sha256(asset.read_bytes()).hexdigest()
        assert f"{asset.name}`" in source and digest in source, f"{asset.name} changed"
