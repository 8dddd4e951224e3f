"""The scene behaviour's hold-back of slower work until the browser reports the new scenes drawn."""

from __future__ import annotations

from panel.io.state import set_curdoc

from rbfviz.app.live_scene import DRAWN_TIMEOUT_MS, SCENE_SCRIPT, SceneBehaviour, after_drawn


class SessionDoc:
    """The parts of a served Bokeh document that ``after_drawn`` uses: timeouts it can cancel."""

    session_context = object()

    def __init__(self):
        self.timeouts = {}

    def add_timeout_callback(self, callback, ms):
        handle = object()
        self.timeouts[handle] = (callback, ms)
        return handle

    def remove_timeout_callback(self, handle):
        del self.timeouts[handle]


def test_work_waits_for_the_draw_report_and_runs_once():
    doc, behaviour, ran = SessionDoc(), SceneBehaviour(), []
    with set_curdoc(doc):
        behaviour.after_drawn(lambda: ran.append("strip"))
    assert ran == [] and [ms for _, ms in doc.timeouts.values()] == [DRAWN_TIMEOUT_MS]
    behaviour.drawn += 1  # the browser's report
    assert ran == ["strip"] and doc.timeouts == {}  # the fallback timeout is dropped
    behaviour.drawn += 1
    assert ran == ["strip"]


def test_without_a_report_the_timeout_runs_it_once():
    doc, behaviour, ran = SessionDoc(), SceneBehaviour(), []
    with set_curdoc(doc):
        behaviour.after_drawn(lambda: ran.append("chart"))
    (callback, _), *_ = doc.timeouts.values()
    callback()  # no WebGL: the browser never reports a draw
    assert ran == ["chart"]
    behaviour.drawn += 1  # a late report does not run it again
    assert ran == ["chart"]


def test_outside_a_server_the_work_runs_at_once():
    ran = []
    SceneBehaviour().after_drawn(lambda: ran.append(1))
    after_drawn(None, lambda: ran.append(2))
    assert ran == [1, 2]


def test_the_browser_script_is_shipped_and_counts_draws():
    assert "window.__rbfScenes" in SCENE_SCRIPT and "data.drawn = data.drawn + 1" in SCENE_SCRIPT
