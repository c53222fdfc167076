"""Headless Debian Chromium driven by Playwright (never a downloaded browser), for page tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator:
    """A page whose console errors and uncaught exceptions collect in `page.errors`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.errors = []
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            yield page
        finally:
            browser.close()


def ray_token() -> str:
    """The token a user pastes into Ray's dashboard, fetched as the sweep's hint says."""
    result = subprocess.run(["ray", "get-auth-token"], capture_output=True, text=True, timeout=60)
    return result.stdout.strip()


def sign_in_to_dashboard(page, url: str) -> None:
    """Open the Ray dashboard; where it asks for the token, paste it and submit, as a user does."""
    page.goto(url, wait_until="networkidle")
    field = page.get_by_placeholder("Enter your authentication token")
    if field.count() and field.is_visible():
        field.fill(ray_token())
        page.get_by_role("button", name="Submit").click()
        field.wait_for(state="hidden", timeout=30_000)  # under load the dialog lingers (seen in CI)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(500)


def save_screenshot(page, name: str) -> None:
    """With RNN_TUNE_SCREENSHOTS=DIR, keep the page as DIR/NAME (the README's images)."""
    folder = os.environ.get("RNN_TUNE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))
