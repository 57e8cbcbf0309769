"""The drop page in a real browser: Debian's Chromium, headless, driven by Selenium through
Debian's chromedriver. The story sample and its host files are dropped on the page (a real
``drop`` event carrying the files) and the rendered report must show the Hyper-V finding.
A screenshot is kept: under $DUMPTRIAGE_ARTEFACTS when set (CI keeps that folder), else in
the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.server import STORY, Server, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# In CI (DUMPTRIAGE_SHARED set, as root) scripts/install.sh --test installs both: no skipping.
MUST_RUN = bool(os.environ.get("DUMPTRIAGE_SHARED")) and os.geteuid() == 0

DROP = """
const input = document.getElementById('test-files');
const data = new DataTransfer();
for (const file of input.files) data.items.add(file);
document.getElementById('drop').dispatchEvent(
  new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
"""
ADD_INPUT = """
const input = document.createElement('input');
input.type = 'file'; input.multiple = true; input.id = 'test-files';
document.body.append(input);
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = (f"{', '.join(missing)} not installed (Debian packages chromium and "
                   "chromium-driver; scripts/install.sh --test installs them as root)")
        if MUST_RUN:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    # The machine has no network: without these Chromium keeps trying to reach Google.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--window-size=1280,2000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("page") / "data") as running:
        yield running


def _drop(driver: Any, server: Server, files: list[Path]) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.url + "/")
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "version").text)
    driver.execute_script(ADD_INPUT)
    driver.find_element(By.ID, "test-files").send_keys("\n".join(str(f) for f in files))
    driver.execute_script(DROP)
    WebDriverWait(driver, 90).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".report .finding")
        or "failed" in d.find_element(By.ID, "uploads").text
        or "refused" in d.find_element(By.ID, "uploads").text)
    return driver


def _artefact(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("DUMPTRIAGE_ARTEFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_dropping_the_story_shows_the_hyperv_finding(browser: Any, server: Server,
                                                     tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    files = [STORY / n for n in ("MEMORY.DMP", "vm113.xml", "qemu-vm113.log")]
    _drop(browser, server, files)
    shot = _artefact(tmp_path, "drop-page-story.png")
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    uploads = browser.find_element(By.ID, "uploads").text
    assert "MEMORY.DMP" in uploads and "vm113.xml, qemu-vm113.log" in uploads
    assert "done" in uploads
    first = browser.find_elements(By.CSS_SELECTOR, ".report .finding")[0]
    # as render/findings_text.py words it: "1. TITLE [RULE, CONFIDENCE]"
    assert first.find_element(By.TAG_NAME, "h3").text == (
        "1. vCPU starvation without Hyper-V relaxed timing [KVM-0101-RELAXED, established]")
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".report h2")]
    assert headings[0] == "Findings (most likely first)"  # findings first
    assert "Bugcheck 0x00000101 CLOCK_WATCHDOG_TIMEOUT" in headings
    fix = first.find_element(By.CSS_SELECTOR, ".fix pre").text
    assert "<relaxed state='on'/>" in fix
    assert first.find_element(By.CSS_SELECTOR, ".fix button.copy").text == "copy"
    buckets = browser.find_element(By.ID, "buckets").text
    assert "KVM-0101-RELAXED" in buckets
    # a bucket opens its dumps, and a dump its report again
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.CSS_SELECTOR, "#buckets button.link").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#bucket td"))
    assert "MEMORY.DMP" in browser.find_element(By.ID, "bucket").text
    browser.execute_script("document.getElementById('report').replaceChildren()")
    browser.find_element(By.CSS_SELECTOR, "#bucket button.small").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".report .finding"))


def test_a_hostile_file_name_is_shown_as_text(browser: Any, server: Server,
                                              tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    name = "<img src=x onerror=window.pwned=1>.dmp"  # browsers send a " as %22
    hostile = tmp_path / name
    shutil.copy(STORY / "MEMORY.DMP", hostile)
    _drop(browser, server, [hostile])
    browser.save_screenshot(str(_artefact(tmp_path, "drop-page-hostile-name.png")))
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "img") == []
    source = browser.find_element(By.CSS_SELECTOR, ".report .source").text
    assert source.startswith(f"Dump file: {name}")


def test_a_dropped_vmcore_shows_every_vcpu(browser: Any, server: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    from dumptriage.synth import hung
    from dumptriage.synth.builder import guest_memory
    from dumptriage.synth.vmcore import write_elf

    built, runs, pages = guest_memory(hung.hung_x64())
    names = ("rip", "rsp", "rbp", "rflags", "cr0", "cr3", "cr4", "cs", "ss", "fs", "fs_base",
             "gs_base", "kernel_gs_base", "gdt_base", "gdt_limit", "idt_base", "idt_limit",
             "bits")
    core = tmp_path / "vm.core"
    write_elf(core, runs, [{n: getattr(v, n) for n in names} for v in built.vcpus],
              pages=pages)
    _drop(browser, server, [core])
    browser.save_screenshot(str(_artefact(tmp_path, "drop-page-vmcore.png")))
    source = browser.find_element(By.CSS_SELECTOR, ".report .source").text
    assert source.startswith("Guest memory (vmcore): vm.core")
    summaries = [s.text for s in browser.find_elements(By.CSS_SELECTOR, ".report summary")]
    assert f"vCPUs ({len(built.vcpus)})" in summaries
    first = browser.find_elements(By.CSS_SELECTOR, ".report .finding")[0]
    assert "KVM-HANG-DRIVER-IF-OFF" in first.find_element(By.TAG_NAME, "h3").text
