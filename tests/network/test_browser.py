"""The registry page in a real browser: Debian's headless chromium, driven by Playwright.

Skipped when chromium is not installed. Without Playwright, the search is loaded as its GET
URL with ``chromium --headless --dump-dom`` instead of being typed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from typing import Any
from urllib.parse import quote

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _dump_dom(url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=60,
        )
    return out.stdout


def test_search_typed_in_the_registry_page(joined: list[dict[str, Any]], network: Any) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        dom = _dump_dom(f"{network.url}/?q={quote('#diabetes')}")
        assert "Found 4 results in total." in dom and "Oak Hospital" in dom
        return
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS[1:]
        )
        try:
            page = browser.new_page()
            page.goto(network.url + "/")
            assert "Research Net" in page.title()
            assert page.locator("#domains tbody tr").count() == 3
            page.fill("#q", "#diabetes")
            page.press("#q", "Enter")
            page.wait_for_selector("#summary")
            assert page.inner_text("#summary") == "Found 4 results in total."
            rows = page.locator("#results tbody tr")
            assert rows.count() == 4
            text = page.inner_text("#results")
            assert "May Clinic" in text and "Oak Hospital" in text and "Pine Lab" not in text
            assert "#diabetes found 4" in page.inner_text("#tag-profile")
            assert "q=%23diabetes" in page.url
        finally:
            browser.close()


def test_the_page_renders_in_chromium_without_a_driver(
    joined: list[dict[str, Any]], network: Any
) -> None:
    dom = _dump_dom(f"{network.url}/?q={quote('glucose')}")
    assert "Found 2 results in total." in dom and "Oak Hospital" in dom
