"""README.md and docs/ stay true: links resolve, named paths and modules exist, the diagram."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.support.markdown import PAGES, README, ROOT, anchors, blocks, code_spans, links

PAGE_IDS = [str(page.relative_to(ROOT)) for page in PAGES]
# Inline code that names a file of this repository, e.g. `tsmetrics/cache/bodies.py`.
REPO_PATH = re.compile(
    r"^(?:tsmetrics|tests|static|templates|migrations|scripts|bench|schemas|secrets|docs)/[\w./-]*$"
)
MODULE_PATH = re.compile(r"^tsmetrics(?:\.\w+)+$")
NOT_MODULES = {"tsmetrics.samples"}  # the default queue name


def _exists(dotted: str) -> bool:
    """True when `dotted` is a module of ours, or an attribute of one."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            if not hasattr(target, name):
                try:
                    target = importlib.import_module(f"{target.__name__}.{name}")
                except (AttributeError, ModuleNotFoundError):
                    return False
            else:
                target = getattr(target, name)
        return True
    return False


def _names_nothing(span: str) -> bool:
    """True when `span` looks like a path or module of ours that does not exist."""
    if REPO_PATH.match(span):
        return not (ROOT / span.rstrip("/")).exists()
    return bool(MODULE_PATH.match(span)) and span not in NOT_MODULES and not _exists(span)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_relative_link_points_at_a_file_and_anchor(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_relative_to(ROOT) or not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (file.suffix != ".md" or anchor not in anchors(file)):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)} has broken links: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_path_and_module_named_in_code_exists(page):
    # The layout moves now and then; a page must not keep the old names.
    missing = [span for span in code_spans(page) if _names_nothing(span)]
    assert not missing, f"{page.relative_to(ROOT)} names what does not exist: {missing}"


def test_the_readme_diagram_names_every_package_and_nothing_else():
    diagram = next(block.text for block in blocks(README) if block.lang == "mermaid")
    named = set(re.findall(r"tsmetrics/(\w+)", diagram))
    packages = {init.parent.name for init in (ROOT / "tsmetrics").glob("*/__init__.py")}
    assert packages <= named, f"the diagram leaves out {sorted(packages - named)}"
    for name in named:
        assert (ROOT / "tsmetrics" / name).is_dir() or (ROOT / "tsmetrics" / f"{name}.py").exists()


def test_the_readme_stays_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, "README.md is the front page: move reference into docs/"
    assert sum("the sketch**" in line for line in lines) == 1, "define the sketch once"
