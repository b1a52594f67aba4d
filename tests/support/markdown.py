"""README.md and docs/*.md as data: fenced blocks, links, heading anchors and code spans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = (README, *sorted((ROOT / "docs").glob("*.md")))

_FENCE = re.compile(r"^```([\w-]*)\s*$")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_CODE_SPAN = re.compile(r"`([^`]+)`")  # may wrap onto the next line


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it starts, its language and its text."""

    page: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        """`docs/api.md:42`, for messages."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced code block of `page`, in order."""
    found, lang, start, body = [], None, 0, []
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        fence = _FENCE.match(line)
        if lang is None and fence:
            lang, start, body = fence[1], number, []
        elif lang is not None and line.strip() == "```":
            found.append(Block(page, start, lang, "\n".join(body) + "\n"))
            lang = None
        elif lang is not None:
            body.append(line)
    return found


def prose(page: Path) -> str:
    """The text of `page` outside fenced code blocks."""
    kept, inside = [], False
    for line in page.read_text().splitlines():
        if _FENCE.match(line) or (inside and line.strip() == "```"):
            inside = not inside
            continue
        if not inside:
            kept.append(line)
    return "\n".join(kept)


def links(page: Path) -> list[str]:
    """Targets of the Markdown links and images in the prose of `page`."""
    return _LINK.findall(_CODE_SPAN.sub("", prose(page)))


def autolinks(page: Path) -> list[str]:
    """URLs written as `<http://...>` in the prose of `page`."""
    return _AUTOLINK.findall(prose(page))


def code_spans(page: Path) -> list[str]:
    """The inline code spans in the prose of `page`, a wrapped one joined by a space."""
    return [" ".join(span.split()) for span in _CODE_SPAN.findall(prose(page))]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of `page` (a repeated heading gets -1, -2, ...)."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in prose(page).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading:
            base = slug(heading[1])
            count = counts.get(base, 0)
            found.add(f"{base}-{count}" if count else base)
            counts[base] = count + 1
    return found
