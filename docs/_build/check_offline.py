"""Check that a built site fetches nothing from another host: every script, stylesheet, image,
font and frame it loads is one of its own files. Links a reader may follow are fine.

    python docs/_build/check_offline.py site
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# (tag, attribute) pairs whose URL the browser loads by itself, without a click.
_LOADED = {
    ("script", "src"),
    ("img", "src"),
    ("iframe", "src"),
    ("audio", "src"),
    ("video", "src"),
    ("source", "src"),
    ("embed", "src"),
    ("object", "data"),
}
_REMOTE = re.compile(r"^(https?:)?//", re.I)
_CSS_URL = re.compile(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)""", re.I)


class _Loads(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in values.items():
            if value and (tag, name) in _LOADED and _REMOTE.match(value):
                self.remote.append(f"<{tag} {name}={value}>")
        href = values.get("href") or ""
        rel = (values.get("rel") or "").lower()
        if tag == "link" and "alternate" not in rel and "canonical" not in rel:
            if _REMOTE.match(href):
                self.remote.append(f"<link rel={rel} href={href}>")


def remote_loads(site: Path) -> list[str]:
    """Every place in `site` that makes a browser fetch from another host."""
    found = []
    for page in sorted(site.rglob("*.html")):
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        found += [f"{page.relative_to(site)}: {what}" for what in parser.remote]
    for sheet in sorted(site.rglob("*.css")):
        for url in _CSS_URL.findall(sheet.read_text(encoding="utf-8", errors="replace")):
            found.append(f"{sheet.relative_to(site)}: url({url})")
    return found


def main() -> int:
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    pages = list(site.rglob("*.html"))
    if not pages:
        print(f"check_offline: no HTML pages in {site}; build the site first", file=sys.stderr)
        return 2
    found = remote_loads(site)
    for line in found:
        print(f"check_offline: loads from another host: {line}", file=sys.stderr)
    if not found:
        print(f"check_offline: {len(pages)} pages, nothing fetched from another host")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
