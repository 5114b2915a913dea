"""MkDocs hook: turn the TeX that pymdownx.arithmatex marks into MathML when the site is built,
so formulas render in any current browser with no script and nothing fetched from a CDN."""

from __future__ import annotations

import re
from typing import Any

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.+?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.+?)\\\]</div>', re.S)


def _unescape(tex: str) -> str:
    return tex.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def on_page_content(html: str, **_: Any) -> str:
    html = _BLOCK.sub(lambda m: convert(_unescape(m.group(1)), display="block"), html)
    return _INLINE.sub(lambda m: convert(_unescape(m.group(1))), html)
