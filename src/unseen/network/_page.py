"""The public registry page: domains, datasets, models and a search box, as plain HTML.

Rendered on the server from the registry (no script needed); the search box is a GET form, so
``/?q=%23diabetes`` is a shareable results page. Every value is escaped.
"""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING, Any

from unseen.errors import UnseenError

if TYPE_CHECKING:
    from unseen.network._registry import Registry

MAX_ROWS = 200

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem}form{margin:1rem 0}input[type=search]{width:28rem;padding:.4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
.online{color:#17803d}.offline{color:#b42318}.muted{color:#666}code{font-size:.9em}
"""


def _ago(when: float | None) -> str:
    if when is None:
        return "never"
    seconds = max(0.0, time.time() - when)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))


def _state(online: bool) -> str:
    return (
        '<span class="online">online</span>' if online else '<span class="offline">offline</span>'
    )


def _table(table_id: str, columns: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p id="{table_id}" class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _shape(view: dict[str, Any]) -> str:
    shape = view.get("shape")
    return escape("x".join(str(n) for n in shape)) if isinstance(shape, list) else ""


def _dtype(view: dict[str, Any]) -> str:
    if view.get("dtype"):
        return escape(str(view["dtype"]))
    dtypes = view.get("dtypes")
    return escape(", ".join(sorted(set(map(str, dtypes))))) if isinstance(dtypes, list) else ""


def _results(registry: Registry, query: str) -> str:
    try:
        found = registry.search(query, MAX_ROWS)
    except UnseenError as exc:
        return f'<p id="results" class="offline">{escape(exc.message)}</p>'
    total = found["total"]
    summary = f"Found {total} result{'' if total == 1 else 's'}" + (" in total." if total else ".")
    tags = ", ".join(f"{escape(t)} found {n}" for t, n in found["tags"].items())
    domains = found["domains"]
    rows = [
        [
            escape(domains[r["domain"]]["name"]) + " " + _state(domains[r["domain"]]["online"]),
            escape(r["dataset"]),
            escape(r["name"]),
            escape(" ".join(r["tags"])),
            _shape(r),
            _dtype(r),
            escape(r["description"]),
        ]
        for r in found["results"]
    ]
    columns = ["Domain", "Dataset", "Asset", "Tags", "Shape", "Dtype", "Description"]
    return (
        f'<h2>Results for <code id="query">{escape(query)}</code></h2>'
        f'<p id="summary">{escape(summary)}</p>'
        + (f'<p id="tag-profile" class="muted">Tag profile: {tags}</p>' if tags else "")
        + _table("results", columns, rows, "Nothing matches: try fewer words, or a tag.")
    )


def _datasets(registry: Registry) -> list[list[str]]:
    rows = []
    for domain in registry.domains():
        for dataset in registry.approved(domain["id"]).document["datasets"][:MAX_ROWS]:
            if not isinstance(dataset, dict):
                continue
            assets = [
                str(a.get("name")) for a in dataset.get("assets") or [] if isinstance(a, dict)
            ]
            rows.append(
                [
                    escape(str(dataset.get("name", ""))),
                    escape(domain["name"]),
                    escape(", ".join(assets)),
                    escape(" ".join(map(str, dataset.get("tags") or []))),
                    escape(str(dataset.get("description", ""))),
                ]
            )
            if len(rows) >= MAX_ROWS:
                return rows
    return rows


def render_page(name: str, registry: Registry, query: str = "") -> str:
    domains = registry.domains()
    domain_rows = [
        [
            escape(d["name"]),
            escape(d["url"] or "") + (" (through the network)" if d["tunnel"] else ""),
            escape(d["description"]),
            str(d["datasets"]),
            _state(d["online"]),
            escape(_ago(d["last_seen"])),
        ]
        for d in domains
    ]
    model_rows = [
        [
            escape(str(m.get("name", ""))),
            escape(m["domain"]["name"]),
            escape(" ".join(map(str, m.get("tags") or []))),
            escape(str(m.get("description", ""))),
        ]
        for m in registry.models()[:MAX_ROWS]
    ]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(name)}: unseen network</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(name)}</h1>",
        '<p class="muted">A registry of unseen domains: only metadata their owners published.</p>',
        '<form id="search" method="get" action="/">',
        f'<input type="search" id="q" name="q" value="{escape(query)}" '
        'placeholder="#diabetes, or words from names and descriptions" aria-label="search">',
        ' <button type="submit">Search</button></form>',
    ]
    if query.strip():
        parts.append(_results(registry, query))
    parts += [
        f"<h2>Domains ({len(domains)})</h2>",
        _table(
            "domains",
            ["Name", "URL", "Description", "Datasets", "Status", "Last seen"],
            domain_rows,
            "No domains yet.",
        ),
        "<h2>Datasets</h2>",
        _table(
            "datasets",
            ["Name", "Domain", "Assets", "Tags", "Description"],
            _datasets(registry),
            "No datasets yet.",
        ),
        "<h2>Models</h2>",
        _table("models", ["Name", "Domain", "Tags", "Description"], model_rows, "No models yet."),
        "</body></html>",
    ]
    return "\n".join(parts)
