"""Rewrite the settings table of docs/configuration.md from tsmetrics.settings."""

import re
from pathlib import Path

from tsmetrics.settings import markdown_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
MARKERS = re.compile(r"(<!-- settings-table:start -->\n).*?(<!-- settings-table:end -->)", re.S)

text = PAGE.read_text()
PAGE.write_text(MARKERS.sub(lambda m: m[1] + markdown_table() + "\n" + m[2], text))
print("docs/configuration.md settings table updated.")
