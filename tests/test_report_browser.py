"""report.html in a real browser (headless Chromium driven by selenium), for a run of a hostile shared recipe.

The recipe's description and a layer pattern carry HTML and script; the report must show them as text: no script
runs, the console stays clean, and the tables and the plot render. This test also guards the report's look for
every later change (it fails when a table, a heading or the plot goes missing or a template error leaks in).
Needs the system packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and ``selenium``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recipecc.engine import RunOutcome, run_recipe
from recipecc.recipe import compose_recipe, validate_recipe

pytestmark = pytest.mark.backend

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
#: what a hostile recipe puts where the report prints recipe text (each would set window.__pwned if it ran)
PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
#: a shell pattern that still matches a real layer (stage1.conv1: '1' is in the bracket class) and carries HTML
PATTERN = "stage1.conv[1<b>]"


def _hostile_recipe(folder: Path) -> list[str]:
    (folder / "recipe").mkdir(parents=True)
    (folder / "recipe" / "hostile.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /model: digits_cnn\n  - override /dataset: digits\n  - override /strategy: prune\n"
        "name: hostile\n"
        f"description: '{PAYLOAD}'\n"
        f"strategy:\n  prune:\n    layers: ['{PATTERN}', 'stage2.*']\n    ratio: 0.5\n"
        "  finetune:\n    epochs: 1\n"
    )
    return [f"hydra.searchpath=[file://{folder}]", "recipe=hostile"]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    root = tmp_path_factory.mktemp("hostile")
    overrides = [
        *_hostile_recipe(root / "shared"),
        "model.width=0.5",
        "dataset.image_size=8",
        "model.train.epochs=1",
        "bench.repeats=5",
        "bench.warmup=2",
        "target.threads=[1]",
        f"cache_dir={root / 'cache'}",
    ]
    recipe = validate_recipe(compose_recipe(overrides))
    assert recipe.description == PAYLOAD
    return run_recipe(recipe, root / "run")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs the system packages chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_hostile_text_is_shown_not_run_and_the_report_renders(hostile_run: RunOutcome, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    html_path = hostile_run.reports["html"]
    source = html_path.read_text()
    assert "<script>" not in source and "&lt;script&gt;" in source  # escaped in every place it is printed
    browser.get(html_path.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.execute_script("return window.__pwned === undefined")  # neither the script nor onerror ran
    severe = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert severe == [], severe  # no console error (a raw <img src=x> would log a failed load)

    body = browser.find_element(By.TAG_NAME, "body").text
    assert PAYLOAD in body and PATTERN in body  # the hostile text is visible, as text
    assert browser.find_elements(By.TAG_NAME, "script") == []

    # the look: headings, the results table with both stages, every image decoded
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert {"Results", "Models", "Quality", "Passes"} <= set(headings)
    results = browser.find_elements(By.TAG_NAME, "table")[0]
    rows = [r.text for r in results.find_elements(By.TAG_NAME, "tr")]
    assert rows[0].startswith("Stage") and any(r.startswith("baseline") for r in rows)
    assert any(r.startswith("pruned") for r in rows)
    assert results.size["width"] > 600 and results.size["height"] > 60
    images = browser.find_elements(By.TAG_NAME, "img")
    assert images
    for image in images:
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 200", image)
    browser.save_screenshot(str(html_path.with_name("report-screenshot.png")))  # kept beside the report
