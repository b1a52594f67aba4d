"""Where a login may send the browser afterwards: a path of this site, never another site.

`next` is checked the way a browser will read it (the WHATWG URL standard):
browsers drop leading and trailing controls and spaces and every tab, LF and
CR before parsing, and treat `\\` like `/`, so `/\\t/evil.example` is
`//evil.example` to them. The value is normalised first and checked after.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

# Leading and trailing C0 controls and spaces go; tabs and newlines go anywhere.
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_AND_NEWLINES = str.maketrans("", "", "\t\n\r")
# Kept as they are: URL syntax and existing %-escapes; everything else is escaped.
_URL_SAFE = "/?#[]@!$&'()*+,;=:%~-._"


def same_site_path(target: str | None) -> str | None:
    """`target` as an ASCII path of this site (`/...`), or None when it could lead elsewhere."""
    if not target:
        return None
    url = target.strip(_C0_AND_SPACE).translate(_TAB_AND_NEWLINES)
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    return quote(url, safe=_URL_SAFE)
