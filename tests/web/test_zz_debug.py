import pytest
from tests.conftest import PASSWORD, connected
from tests.web.test_timeline_browser import events, log_in, markers, problems  # noqa

@pytest.mark.browser
def test_dbg(page, auth, events, problems):
    log_in(page, auth)
    page.wait_for_selector("#timeline .main-svg")
    pts = markers(page)
    for i in range(pts.count()):
        box = pts.nth(i).bounding_box()
        print("box", box)
        x, y = box["x"] + box["width"]/2, box["y"] + box["height"]/2
        print(page.evaluate("([x,y]) => { const e = document.elementFromPoint(x,y); return e.tagName + ' ' + e.getAttribute('class'); }", [x, y]))
        page.mouse.move(x, y)
        page.wait_for_timeout(500)
        print("hover:", page.locator("#timeline .hoverlayer").inner_html()[:500])
    print(problems)

@pytest.mark.browser
def test_shot3(page, auth, events, problems):
    log_in(page, auth)
    page.wait_for_selector("#timeline .main-svg")
    page.screenshot(path="/tmp/three.png", full_page=True)
    print(page.evaluate("() => { const e = document.elementFromPoint(201, 229); return e.outerHTML.slice(0,200) + ' parent ' + e.parentNode.getAttribute('class'); }"))
