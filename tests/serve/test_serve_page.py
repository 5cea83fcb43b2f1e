"""The page at ``/`` in headless Chromium: a file chosen in its file input is uploaded,
its progress bar runs, and the history shows its grade (a screenshot is kept at
/tmp/serve_page.png)."""

from __future__ import annotations

import shutil

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

SCREENSHOT = "/tmp/serve_page.png"


@pytest.fixture
def browser():
    driver_path = shutil.which("chromedriver")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if driver_path is None or binary is None:
        pytest.skip("headless Chromium needs Debian's chromium and chromium-driver "
                    "(scripts/install_system_deps.sh test installs them)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_file_chosen_on_the_page_is_graded_into_the_history(serve, clicked_file, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with serve() as s:
        browser.get(s.url + "/")
        assert "vinylmon" in browser.title
        browser.find_element(By.ID, "artist").send_keys("Test Artist")
        browser.find_element(By.ID, "file").send_keys(str(clicked_file[0]))
        grade = WebDriverWait(browser, 120).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "#history tbody tr .grade")))
        job = s.get("/api/jobs").json()["jobs"][0]
        assert grade.text == job["grade"] and grade.get_attribute("data-grade") == job["grade"]
        row = browser.find_element(By.CSS_SELECTOR, "#history tbody tr")
        assert job["limited_by_name"] in row.text and "Test Artist" in row.text
        assert job["reason"].split(": ", 1)[1] in row.text  # the reason, GRADING.md's words
        WebDriverWait(browser, 30).until(  # the upload's bar says done
            lambda b: b.find_element(By.CSS_SELECTOR, "#uploads .state").text.startswith("done"))
        row.find_element(By.XPATH, ".//button[text()='Open']").click()
        frame = browser.find_element(By.ID, "report")
        assert frame.get_attribute("src").endswith(job["report_html"])
        browser.switch_to.frame(frame)
        WebDriverWait(browser, 30).until(lambda b: job["grade"] in b.page_source)
        browser.switch_to.default_content()
        last = [-1.0]

        def scroll_settled(b):  # the smooth scroll to the report has ended
            y = b.execute_script("return window.scrollY")
            settled, last[0] = y == last[0] and y > 0, y
            return settled
        WebDriverWait(browser, 10, poll_frequency=0.3).until(scroll_settled)
        browser.execute_script("window.scrollTo({top: 0, behavior: 'instant'})")
        WebDriverWait(browser, 10).until(lambda b: b.execute_script("return window.scrollY") == 0)
        browser.save_screenshot(SCREENSHOT)
