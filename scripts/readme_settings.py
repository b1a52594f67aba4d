"""Rewrite README's configuration table from tsmetrics.settings (run after adding a setting)."""

import re
from pathlib import Path

from tsmetrics.settings import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"
MARKERS = re.compile(r"(<!-- settings-table:start -->\n).*?(<!-- settings-table:end -->)", re.S)

text = README.read_text()
README.write_text(MARKERS.sub(lambda m: m[1] + markdown_table() + "\n" + m[2], text))
print("README.md configuration table updated.")
