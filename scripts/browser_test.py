#!/usr/bin/env python3
"""Real-browser test of the one-shot drawing demo (headless Chromium through Selenium).

Starts the server from a command template, opens the page, checks that the example drawings got
probabilities, clears the cells with "Edit All" and "Edit", draws a circle, a cross and a triangle in
the three class cells with real mouse events, draws a cross in the test cell (one stroke with the
mouse, one with touch input through CDP), and checks that class 2 gets the highest probability. Also
checks the phone layout (no horizontal overflow, drawings kept), that the browser logged no errors,
and saves screenshots.

Needs Debian's chromium and chromium-driver packages and `pip install selenium`; no downloads at run
time.

    python3 scripts/browser_test.py --server-cmd ".build/release/reptile serve --port {port}"

Exit status 0 when every check passes, 1 on any failure (with a message saying which), 2 on bad usage.
"""

import argparse
import math
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_server import ServerError, ServerProcess  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    print("FAIL: selenium is not installed (pip install selenium)", file=sys.stderr)
    sys.exit(1)


class CheckFailed(Exception):
    pass


def log(message):
    print(message, flush=True)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self, cap=None):
        remaining = max(0.5, self.end - time.monotonic())
        return min(remaining, cap) if cap else remaining


# ---- shapes, in [0, 1]² cell coordinates ------------------------------------------------------

def circle(cx=0.5, cy=0.5, r=0.3, segments=24):
    return [[(cx + r * math.cos(2 * math.pi * i / segments - math.pi / 2),
              cy + r * math.sin(2 * math.pi * i / segments - math.pi / 2)) for i in range(segments + 2)]]


def line(a, b, segments=8):
    return [(a[0] + (b[0] - a[0]) * i / segments, a[1] + (b[1] - a[1]) * i / segments) for i in range(segments + 1)]


def cross(cx=0.5, cy=0.5, h=0.26):
    return [line((cx - h, cy - h), (cx + h, cy + h)), line((cx + h, cy - h), (cx - h, cy + h))]


def triangle(cx=0.5, cy=0.56, r=0.34):
    corners = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6, -math.pi / 2)]
    points = []
    for a, b in zip(corners, corners[1:]):
        points.extend(line(a, b, 6)[(1 if points else 0):])
    return [points]


# ---- browser ------------------------------------------------------------------------------------

def make_driver(args):
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--hide-scrollbars", "--force-device-scale-factor=1",
                 "--disable-extensions", "--no-first-run", "--disable-background-networking"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=args.chromedriver)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    return driver


def results_state(driver):
    return driver.execute_script("""
        const r = document.getElementById('results');
        const meters = [...document.querySelectorAll('.bar-track')];
        return {
          state: r.dataset.state, seq: Number(r.dataset.seq || 0), predicted: r.dataset.predicted,
          probabilities: meters.map(m => m.dataset.probability === undefined ? null : Number(m.dataset.probability)),
          shown: [...document.querySelectorAll('.bar-value')].map(e => e.textContent),
          widths: [...document.querySelectorAll('.bar-fill')].map(e => e.getBoundingClientRect().width),
          status: document.getElementById('status').textContent,
          strokes: ['cell-0', 'cell-1', 'cell-2', 'cell-input'].map(id => Number(document.getElementById(id).dataset.strokes || 0)),
        };
    """)


def wait_for_settled_result(driver, deadline, after_seq, what):
    """Waits until a classification newer than `after_seq` is shown and nothing is pending for 0.4 s."""
    last = {"seq": None, "since": None}

    def settled(d):
        s = results_state(d)
        if s["state"] == "error":
            raise CheckFailed(f"{what}: the page shows an error: {s['status']}")
        if s["state"] != "ok" or s["seq"] <= after_seq:
            last["seq"] = None
            return False
        now = time.monotonic()
        if last["seq"] != s["seq"]:
            last["seq"], last["since"] = s["seq"], now
            return False
        return s if now - last["since"] >= 0.4 else False

    try:
        return WebDriverWait(driver, deadline.left(20), poll_frequency=0.1).until(settled)
    except TimeoutException:
        raise CheckFailed(f"{what}: no classification shown in time; page state: {results_state(driver)}")


def check_probabilities(state, what):
    probabilities = state["probabilities"]
    if len(probabilities) != 3 or any(p is None for p in probabilities):
        raise CheckFailed(f"{what}: the bars have no probabilities: {state}")
    if abs(sum(probabilities) - 1) > 1e-3:
        raise CheckFailed(f"{what}: probabilities do not sum to 1: {probabilities}")
    if not all(text.endswith("%") for text in state["shown"]):
        raise CheckFailed(f"{what}: the bars show no percentages: {state['shown']}")
    best = max(range(3), key=lambda i: probabilities[i])
    if state["widths"][best] <= 0:
        raise CheckFailed(f"{what}: the predicted class's bar has no width: {state['widths']}")
    if state["predicted"] != str(best):
        raise CheckFailed(f"{what}: the highlighted class {state['predicted']} is not the most probable {best}")
    return best


def draw_with_mouse(driver, canvas, strokes):
    """Each stroke: press, several moves, release, with real (W3C action) mouse events."""
    width, height = canvas.rect["width"], canvas.rect["height"]

    def offset(point):  # Selenium 4 offsets are from the element's centre
        return round((point[0] - 0.5) * width), round((point[1] - 0.5) * height)

    for stroke in strokes:
        actions = ActionChains(driver, duration=15)
        actions.move_to_element_with_offset(canvas, *offset(stroke[0])).click_and_hold()
        for point in stroke[1:]:
            actions.move_to_element_with_offset(canvas, *offset(point))
        actions.release().perform()


def draw_with_touch(driver, canvas, stroke):
    """One stroke with CDP touch events (touchStart, touchMove…, touchEnd) at viewport coordinates."""
    rect = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height];", canvas)
    left, top, width, height = rect
    points = [(left + x * width, top + y * height) for x, y in stroke]
    touch = lambda kind, pts: driver.execute_cdp_cmd(  # noqa: E731
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y, "id": 1, "radiusX": 2, "radiusY": 2, "force": 1} for x, y in pts]},
    )
    touch("touchStart", points[:1])
    for point in points[1:]:
        touch("touchMove", [point])
        time.sleep(0.01)
    touch("touchEnd", [])


def browser_errors(driver):
    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        return []
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]


def run_checks(driver, base_url, deadline, screenshot):
    step = lambda message: log(f"  ✓ {message}")  # noqa: E731
    driver.get(base_url + "/")
    if "Reptile" not in driver.title:
        raise CheckFailed(f"unexpected page title {driver.title!r}")

    # 1. The example drawings give probabilities right away.
    state = wait_for_settled_result(driver, deadline, 0, "example drawings")
    if min(state["strokes"]) < 1:
        raise CheckFailed(f"the example drawings are missing: strokes per cell {state['strokes']}")
    best = check_probabilities(state, "example drawings")
    step(f"example drawings classified: {fmt(state['probabilities'])} → class {best + 1}")

    # 2. Edit All clears the three class cells; Edit clears the test cell.
    edit_all = driver.find_element(By.ID, "edit-all")
    if edit_all.text.strip() != "Edit All":
        raise CheckFailed(f"the Edit All button reads {edit_all.text!r}")
    edit_all.click()
    WebDriverWait(driver, deadline.left(5)).until(lambda d: results_state(d)["state"] == "incomplete")
    state = results_state(driver)
    if state["strokes"][:3] != [0, 0, 0] or state["strokes"][3] == 0:
        raise CheckFailed(f"Edit All should clear exactly the class cells: strokes {state['strokes']}")
    if any(p is not None for p in state["probabilities"]):
        raise CheckFailed(f"bars still show probabilities after Edit All: {state}")
    edit = driver.find_element(By.ID, "edit-input")
    if edit.text.strip() != "Edit":
        raise CheckFailed(f"the Edit button reads {edit.text!r}")
    edit.click()
    WebDriverWait(driver, deadline.left(5)).until(lambda d: results_state(d)["strokes"] == [0, 0, 0, 0])
    step(f"Edit All and Edit cleared the cells; status: {results_state(driver)['status']!r}")

    # 3. Draw three different shapes with the mouse.
    for index, (name, strokes) in enumerate([("circle", circle()), ("cross", cross()), ("triangle", triangle())]):
        canvas = driver.find_element(By.ID, f"cell-{index}")
        draw_with_mouse(driver, canvas, strokes)
        drawn = int(canvas.get_attribute("data-strokes") or 0)
        if drawn != len(strokes) or canvas.get_attribute("data-pointer-type") != "mouse":
            raise CheckFailed(f"class {index + 1}: drew {len(strokes)} mouse strokes, the page recorded {drawn} "
                              f"(pointer type {canvas.get_attribute('data-pointer-type')})")
    ink = driver.execute_script(
        "return [0,1,2].map(i => { const c = document.querySelectorAll('canvas.preview')[i];"
        " const d = c.getContext('2d').getImageData(0,0,28,28).data; let s = 0;"
        " for (let j = 0; j < d.length; j += 4) s += (255 - d[j]) / 255; return s; });")
    if any(value < 20 for value in ink):
        raise CheckFailed(f"the 28×28 reductions of the class drawings have too little ink: {fmt(ink)}")
    step(f"drew a circle, a cross and a triangle with the mouse (ink at 28×28: {fmt(ink, 0)} px)")

    # 4. A cross in the test cell: one stroke with the mouse, one with touch.
    seq_before = results_state(driver)["seq"]
    input_canvas = driver.find_element(By.ID, "cell-input")
    first, second = cross(0.46, 0.53, 0.22)
    draw_with_mouse(driver, input_canvas, [first])
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    draw_with_touch(driver, input_canvas, second)
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
    try:
        WebDriverWait(driver, deadline.left(5)).until(lambda d: input_canvas.get_attribute("data-strokes") == "2")
    except TimeoutException:
        raise CheckFailed(f"the touch stroke was not drawn: test cell has {input_canvas.get_attribute('data-strokes')} strokes")
    if input_canvas.get_attribute("data-pointer-type") != "touch":
        raise CheckFailed(f"the second stroke came as pointer type {input_canvas.get_attribute('data-pointer-type')!r}, not touch")
    step("drew a cross in the test cell (first stroke mouse, second stroke touch)")

    # 5. The bars update, and class 2 wins.
    state = wait_for_settled_result(driver, deadline, seq_before, "drawn cells")
    best = check_probabilities(state, "drawn cells")
    if best != 1:
        raise CheckFailed(f"expected class 2 (the cross) to be most probable, got class {best + 1}: {fmt(state['probabilities'])}")
    step(f"bars updated ({state['seq'] - seq_before} classifications while drawing): "
         f"{fmt(state['probabilities'])} → class 2; status: {state['status']!r}")

    errors = browser_errors(driver)
    if errors:
        raise CheckFailed("the browser logged errors:\n  " + "\n  ".join(errors))
    # A laptop screen (1280×800): the test drawing sits beside the training drawings, and every
    # class's bar is visible without scrolling.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    time.sleep(0.3)
    layout = driver.execute_script("""
        const box = e => e.getBoundingClientRect();
        const training = box(document.getElementById('cell-0')), test = box(document.getElementById('cell-input'));
        const bars = [...document.querySelectorAll('.bar-row')].filter(r => r.offsetParent !== null).map(r => box(r).bottom);
        return {trainingTop: training.top, trainingBottom: training.bottom, testTop: test.top, testLeft: test.left,
                trainingRight: box(document.getElementById('cell-2')).right, barsBottom: Math.max(...bars), height: window.innerHeight};
    """)
    if not (layout["testLeft"] >= layout["trainingRight"] and layout["testTop"] < layout["trainingBottom"]):
        raise CheckFailed(f"at 1280×800 the test drawing is not beside the training drawings: {layout}")
    if layout["barsBottom"] > layout["height"]:
        raise CheckFailed(f"at 1280×800 the class bars end below the fold: {layout}")
    step(f"1280×800: test drawing beside the training drawings, bars end at {layout['barsBottom']:.0f} of {layout['height']} px")
    page_height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the whole page in one picture
                           {"width": 1280, "height": max(800, min(page_height, 2000)), "deviceScaleFactor": 1, "mobile": False})
    time.sleep(0.3)
    driver.save_screenshot(screenshot)
    step(f"screenshot saved to {screenshot}")

    # 6. Phone width: no horizontal overflow, drawings and bars kept.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    time.sleep(0.3)
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth;")
    if overflow > 0:
        raise CheckFailed(f"at 390 px wide the page overflows horizontally by {overflow} px")
    state = results_state(driver)
    if state["strokes"] != [1, 2, 1, 2] or state["state"] != "ok":
        raise CheckFailed(f"at phone width the drawings or bars were lost: {state}")
    sizes = driver.execute_script("return [...document.querySelectorAll('canvas.draw')].map(c => Math.round(c.getBoundingClientRect().width));")
    if min(sizes) < 80:
        raise CheckFailed(f"at phone width the drawing cells are too small: {sizes} px")
    page_height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": max(844, min(page_height, 3000)), "deviceScaleFactor": 2, "mobile": True})
    time.sleep(0.3)
    root, ext = os.path.splitext(screenshot)
    mobile = f"{root}-mobile{ext or '.png'}"
    driver.save_screenshot(mobile)
    step(f"phone width (390 px): no overflow, cells {sizes} px wide; screenshot saved to {mobile}")


def fmt(values, digits=3):
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-cmd", required=True,
                        help='command that runs the server, with {port} for the port, e.g. ".build/release/reptile serve --port {port}"')
    parser.add_argument("--screenshot", default="browser-test.png", help="where to save the screenshot (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=60, help="limit for the whole test in seconds (default: %(default)s)")
    parser.add_argument("--startup-timeout", type=float, default=30, help="seconds to wait for the server (default: %(default)s)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser binary (default: %(default)s)")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver", help="driver binary (default: %(default)s)")
    args = parser.parse_args()
    for path in (args.chromium, args.chromedriver):
        if not os.access(path, os.X_OK):
            print(f"FAIL: {path} not found (apt-get install chromium chromium-driver)", file=sys.stderr)
            return 1

    started = time.monotonic()
    deadline = Deadline(args.timeout)
    state = {"server": None, "driver": None}

    def watchdog():
        print(f"FAIL: the browser test did not finish within {args.timeout:.0f} s", file=sys.stderr, flush=True)
        if state["server"] is not None:
            print(state["server"].log_tail(), file=sys.stderr, flush=True)
            state["server"].kill_now()
        service = getattr(state["driver"], "service", None)
        if service is not None and getattr(service, "process", None) is not None:
            try:
                service.process.kill()
            except OSError:
                pass
        os._exit(1)

    timer = threading.Timer(args.timeout + 5, watchdog)  # checks time out on their own first
    timer.daemon = True
    timer.start()
    log(f"browser test: server command {args.server_cmd!r}")
    try:
        with ServerProcess(args.server_cmd, startup_timeout=min(args.startup_timeout, args.timeout)) as server:
            state["server"] = server
            log(f"  ✓ server answering at {server.base_url}")
            driver = make_driver(args)
            state["driver"] = driver
            try:
                run_checks(driver, server.base_url, deadline, args.screenshot)
            except (CheckFailed, TimeoutException, WebDriverException) as error:
                try:
                    driver.save_screenshot(args.screenshot)
                    print(f"  (screenshot of the failure saved to {args.screenshot})", file=sys.stderr)
                except WebDriverException:
                    pass
                message = error.msg if isinstance(error, WebDriverException) and error.msg else str(error)
                print(f"FAIL: {message or type(error).__name__}", file=sys.stderr)
                print(server.log_tail(), file=sys.stderr)
                return 1
            finally:
                try:
                    driver.quit()
                except WebDriverException:
                    pass
    except ServerError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        return 1
    except WebDriverException as error:
        print(f"FAIL: cannot start Chromium through {args.chromedriver}: {error.msg}", file=sys.stderr)
        return 1
    finally:
        timer.cancel()
    log(f"PASS: browser test passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
