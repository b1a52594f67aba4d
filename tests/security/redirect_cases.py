"""Values of `next` a login may meet, and where the app must send the browser for each."""

HOME = "/dashboard/"
# (next as the form or query string carries it, the Location the app must answer).
NEXT_CASES = [
    ("/\t/evil.example", HOME),  # issue 14: the tab went after the `//` check
    ("/\n/x", HOME),  # issue 14: a 500 (a newline in a header)
    ("/\r/evil.example", HOME),
    ("/\r\n/evil.example", HOME),
    ("\t//evil.example", HOME),
    (" //evil.example", HOME),
    ("\x00//evil.example", HOME),
    ("\x1f/\t/evil.example", HOME),
    ("//evil.example", HOME),
    ("///evil.example", HOME),
    ("////evil.example/", HOME),
    ("/\\evil.example", HOME),
    ("\\\\evil.example", HOME),
    ("\\/evil.example", HOME),
    ("/\t\\evil.example", HOME),
    ("/ \\evil.example", HOME),
    ("https://evil.example/", HOME),
    ("HTTPS://evil.example/", HOME),
    ("https:evil.example", HOME),
    ("h\tttps://evil.example", HOME),
    ("javascript:alert(1)", HOME),
    ("java\nscript:alert(1)", HOME),
    (" javascript:alert(1)", HOME),
    ("data:text/html,<script>alert(1)</script>", HOME),
    ("evil.example", HOME),
    ("dashboard/", HOME),
    ("/dashboard/\x00", HOME),
    ("/dashboard/\x7f", HOME),
    ("", HOME),
    # Paths of this site stay as they are (made ASCII, as a header must be).
    ("/dashboard/", "/dashboard/"),
    ("/dashboard/abtests/feature_a?range=7d#chart", "/dashboard/abtests/feature_a?range=7d#chart"),
    ("/dashboard/ ", "/dashboard/"),
    ("  /dashboard/tests\t", "/dashboard/tests"),
    ("/%2F/evil.example", "/%2F/evil.example"),
    ("/%09/evil.example", "/%09/evil.example"),
    ("/%5Cevil.example", "/%5Cevil.example"),
    ("/.//evil.example", "/.//evil.example"),
    ("/dashboard/é", "/dashboard/%C3%A9"),
    ("/\u3000/evil.example", "/%E3%80%80/evil.example"),
    ("/\uff0f\uff0fevil.example", "/%EF%BC%8F%EF%BC%8Fevil.example"),
    ('/a b"<c>', "/a%20b%22%3Cc%3E"),
    ("/login?next=//evil.example", "/login?next=//evil.example"),
]
