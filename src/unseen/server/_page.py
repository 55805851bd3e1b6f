"""The page a browser sees at a domain's root URL: what this is, and where to go from here."""

from __future__ import annotations

from html import escape

__all__ = ["root_page"]


def root_page(name: str, url_hint: str = "http://<this address>") -> str:
    """A small static HTML page; the node's name is escaped (an owner may name it anything)."""
    title = escape(name)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · unseen domain</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;line-height:1.5}}
code{{background:#f3f3f3;padding:.1em .3em}}</style></head>
<body><h1>{title}</h1>
<p>An <strong>unseen</strong> domain node: private data stays here. Data scientists compute on
it through pointers, and results leave only through a release the owner controls.</p>
<p>From Python: <code>unseen.login(url="{escape(url_hint)}", email=..., password=...)</code></p>
<p>The HTTP API: <a href="/docs">/docs</a> · <a href="/api/v1/info">/api/v1/info</a></p>
</body></html>
"""
