"""Debian's headless Chromium for the browser tests (never a browser a tool downloads itself): its flags in one place."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")


@contextlib.contextmanager
def headless_chromium(*flags: str, logging_prefs: dict | None = None) -> Iterator:
    """A driver for Debian's chromium with the common flags plus `flags`, on a profile removed afterwards."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("needs Debian's chromium and chromium-driver: run `make browser`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="qa-chromium-")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_AVOID_STATS", "true")
        opts = webdriver.ChromeOptions()
        opts.binary_location = str(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={profile}", *flags):
            opts.add_argument(flag)
        if logging_prefs:
            opts.set_capability("goog:loggingPrefs", logging_prefs)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
        driver.set_page_load_timeout(60)
        try:
            yield driver
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
