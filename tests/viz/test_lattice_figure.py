"""The lattice figure (paper Figure 2) at print sizes: site numbers never overlap, the key is readable.

Label boxes are measured here with Pillow's FreeType binding (not VTK's text metrics, which
the library uses to place them) around each label's projected anchor; font sizes are converted
back to points from the figure's printed width.
"""

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import itertools

import numpy as np
import pytest
from PIL import ImageFont

from rbfviz.data.lattice import DEFAULT_SITES, GROUPS
from rbfviz.viz import lattice_scene as L
from rbfviz.viz.style import FONT_FILE

SINGLE_PX = 350  # a single-column figure on screen (~100 dpi)
PRINT_DPI = 300


def pil_size(text: str, size_px: int) -> tuple[int, int]:
    x0, y0, x1, y1 = ImageFont.truetype(FONT_FILE, size_px).getbbox(text)
    return x1 - x0, y1 - y0


def overlapping_pairs(boxes: dict) -> list:
    out = []
    for (i, a), (j, b) in itertools.combinations(sorted(boxes.items()), 2):
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
            out.append((i, j))
    return out


def check_labels(pl, renderer):
    boxes = L.label_boxes(pl, renderer, font=pil_size)
    assert sorted(boxes) == list(range(1, 27)), "every site is numbered"
    assert overlapping_pairs(boxes) == []
    # each number stays near its own site: within 4 sphere radii of the projected centre
    d = L._project(renderer, DEFAULT_SITES.positions)[:, :2]  # (26, 2)
    cam = renderer.GetActiveCamera()
    vp = L._viewport_px(pl, renderer)
    radius = L.SITE_RADIUS * 0.8 / (2 * cam.GetParallelScale()) * (vp[3] - vp[1])
    for i, (x0, y0, x1, y1) in boxes.items():
        assert np.hypot((x0 + x1) / 2 - d[i - 1, 0], (y0 + y1) / 2 - d[i - 1, 1]) < 4 * radius, f"label {i}"
        assert vp[0] <= x0 and x1 <= vp[2] and vp[1] <= y0 and y1 <= vp[3], f"label {i} leaves its panel"
    return boxes


@pytest.mark.parametrize("surface", [None, "100", "110", "111"])
@pytest.mark.parametrize("width", [SINGLE_PX, int(L.SINGLE_COLUMN_IN * PRINT_DPI)])
def test_site_numbers_never_overlap_at_single_column_width(surface, width):
    pl = L.lattice_plotter(surface, window_size=(width, width), labels=True)
    try:
        check_labels(pl, pl.renderers[0])
    finally:
        pl.close()


@pytest.mark.parametrize("columns,panel", [(2, 510), (4, 525)])
def test_figure_panels_number_every_site_without_overlaps(columns, panel):
    pl = L.lattice_figure(panel_size=panel, columns=columns, surface_labels=True)
    try:
        for ren in pl.renderers[:4]:
            check_labels(pl, ren)
    finally:
        pl.close()


def test_place_labels_moves_a_crowded_label_aside():
    centres = L.place_labels([(50, 50), (51, 50), (50, 51)], [(10, 8)] * 3, radius=6, region=(0, 0, 100, 100))
    assert centres[0].tolist() == [50.0, 50.0]  # the first keeps its spot
    boxes = {i: (x - 5, y - 4, x + 5, y + 4) for i, (x, y) in enumerate(centres)}
    assert overlapping_pairs(boxes) == []
    with pytest.raises(ValueError, match="no room for label"):
        L.place_labels([(5, 5), (5, 5)], [(9, 9)] * 2, radius=1, region=(0, 0, 10, 10))


def key_points(pl, width_in):
    """Point sizes of the key's texts and the texts themselves."""
    ren = pl.renderers[-1]
    texts = [a for name, a in ren.actors.items() if name.startswith("key-") and "marker" not in name]
    per_inch = pl.window_size[0] / width_in
    return [a.GetTextProperty().GetFontSize() * 72 / per_inch for a in texts], [a.GetInput() for a in texts], texts


@pytest.mark.parametrize(
    "make,width_in",
    [
        (lambda: L.lattice_plotter(window_size=(SINGLE_PX, SINGLE_PX)), L.SINGLE_COLUMN_IN),
        (lambda: L.lattice_plotter(window_size=(1020, 1020)), L.SINGLE_COLUMN_IN),
        (lambda: L.lattice_figure(panel_size=510, columns=2), L.SINGLE_COLUMN_IN),
        (lambda: L.lattice_figure(panel_size=525), L.DOUBLE_COLUMN_IN),
    ],
)
def test_key_is_at_least_8pt_and_explains_every_group(make, width_in):
    pl = make()
    try:
        points, texts, actors = key_points(pl, width_in)
        assert min(points) >= 8.0 - 1e-9, points
        for g in GROUPS:  # every code with its meaning
            line = next(t for t in texts if t.startswith(f"{g}: "))
            assert len(line) > len(g) + 8
        assert "migrating atom" in texts and "vacant site" in texts
        # every line fits inside the window (Pillow's width of the text from its anchor)
        W = pl.window_size[0]
        for a in actors:
            x = a.GetPositionCoordinate().GetComputedDisplayValue(pl.renderers[-1])[0]
            assert x >= 0 and x + pil_size(a.GetInput(), a.GetTextProperty().GetFontSize())[0] <= W, a.GetInput()
    finally:
        pl.close()


def test_key_text_is_drawn_dark_and_large_enough():
    """The rendered key: rows of dark text whose glyphs are as tall as an 8-pt capital at this width."""
    pl = L.lattice_plotter(window_size=(SINGLE_PX, SINGLE_PX))
    try:
        img = pl.screenshot(None, return_img=True)
        key_top = SINGLE_PX - int(round(pl.renderers[-1].GetViewport()[3] * SINGLE_PX))
    finally:
        pl.close()
    dark = (img[key_top:, :, :3].astype(int).sum(axis=2) < 200).any(axis=1)  # rows with dark pixels
    runs = [len(list(g)) for k, g in itertools.groupby(dark) if k]
    cap = 0.72 * 8 / 72 * SINGLE_PX / L.SINGLE_COLUMN_IN  # DejaVu's cap height is 0.73 em
    assert len(runs) >= 4 and max(runs) >= cap, (runs, cap)


def test_lattice_tab_shows_the_pressed_surface(tmp_path, tiny_models):
    """The Lattice tab's surface buttons start on "free environment" (pressed) and redraw the picture."""
    pytest.importorskip("panel")
    from rbfviz.app.main import create_app

    app = create_app(workspace=tmp_path / "ws", bundled_dir=tiny_models)
    app.show("Lattice")
    view = app.views["Lattice"]
    buttons = view._surface
    assert buttons.value in buttons.options.values() and view.surface is None
    assert next(k for k, v in buttons.options.items() if v == buttons.value) == "free environment"
    free = view._image.object
    buttons.value = buttons.options["{111}"]
    assert view.surface == "111" and view._image.object != free
    buttons.value = buttons.options["free environment"]
    assert view.surface is None and view._image.object == free
