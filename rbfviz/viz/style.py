"""The palette and the key of every picture: colours, the opacity rule's threshold, labels.

One place for the visual conventions of paper §3.2.2 (Figures 4, 5 and B.6-B.11), shared by the
3D scenes, the charts, the exports and the dashboard, so that they all agree:

* a prototype element is a sphere on its lattice site, red where the value is positive and blue
  where it is negative, with opacity ``min(|value| / threshold, 1)`` (threshold 2 by default);
* the migrating atom is a solid gold sphere, its vacant target a dark grey wire cage, and an
  arrow runs from the one to the other;
* the site groups C, I1, F1, P2, Q2 (:data:`rbfviz.data.lattice.GROUP_DESCRIPTIONS`) have their own
  colours in the charts and the lattice figure;
* crystal directions are written with an overline for a negative index, one way everywhere
  (``[1̅10]``, never ``[1-10]`` in anything a reader sees).

Examples
--------
>>> view_label("[1-10]")
'[1̅10]'
>>> key_lines(threshold=2.0)[0]
'colour = sign of the value: red > 0, blue < 0'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rbfviz.data.lattice import GROUP_DESCRIPTIONS, GROUPS, SURFACE_NORMALS

# --------------------------------------------------------------------------- the opacity rule
OPACITY_THRESHOLD = 2.0  # |value| at which a site is drawn fully opaque (paper §3.2.2)

# --------------------------------------------------------------------------- colours
SIGN_COLORS = {"positive": (0.84, 0.09, 0.11), "negative": (0.10, 0.32, 0.85)}  # red / blue
JUMP_COLORS = {"migrating": (0.97, 0.72, 0.05), "vacancy": (0.22, 0.22, 0.22)}  # gold / dark grey
ARROW_COLOR = (0.45, 0.30, 0.0)  # dark gold: the jump arrow, migrating atom -> vacancy
SURFACE_COLOR = (0.10, 0.55, 0.50)  # teal: the surface plane and its normal in Compare
GROUP_COLORS = {  # Dark2 without its orange/yellow, so no group is mistaken for the gold atom
    "C": "#1b9e77",
    "I1": "#7570b3",
    "F1": "#e7298a",
    "P2": "#66a61e",
    "Q2": "#a6761d",
}
BOND_COLOR = (0.72, 0.72, 0.72)
TEXT_COLOR = (0.1, 0.1, 0.1)
FONT_FAMILY = "DejaVu Sans"  # the face of the charts and of the scenes' text


def _font_file() -> str:
    from matplotlib import get_data_path

    return str(Path(get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


FONT_FILE = _font_file()  # VTK's built-in fonts lack β and the combining overline

# --------------------------------------------------------------------------- directions
OVERLINE = "\u0305"  # combining overline: 1̅
VIEW_LABELS = {"[110]": "[110]", "[001]": "[001]", "[1-10]": "[1\u030510]", "[031]": "[031]"}
AXIS_LABELS = ("[100]", "[010]", "[001]")  # x, y, z of the scenes


def direction_label(vector, brackets: str = "[]") -> str:
    """Miller-index label of an integer direction, negative indices overlined.

    Examples
    --------
    >>> direction_label((-1, 1, 0)), direction_label((1, -1, 1), "()")
    ('[1̅10]', '(11̅1)')
    """
    v = np.asarray(vector).ravel()
    if v.shape != (3,) or not np.allclose(v, np.round(v)):
        raise ValueError(f"a direction label needs three integer indices; got {vector!r}")
    body = "".join(f"{abs(int(x))}{OVERLINE}" if x < 0 else str(int(x)) for x in np.round(v))
    return brackets[0] + body + brackets[1]


def view_label(view) -> str:
    """How a viewpoint is written for readers: ``"[1-10]"`` -> ``"[1̅10]"``.

    Examples
    --------
    >>> view_label("[031]"), view_label((0, -3, 1))
    ('[031]', '[03̅1]')
    """
    if isinstance(view, str):
        if view in VIEW_LABELS:
            return VIEW_LABELS[view]
        return view
    arr = np.asarray(view)
    if arr.shape == (3,) and np.allclose(arr, np.round(arr)):
        return direction_label(arr)
    return "custom view"


def surface_label(surface: str) -> str:
    """``"110"`` -> ``"{110}"`` (the family of the surface plane)."""
    return "{" + str(surface).strip("{}") + "}"


def surface_normal_label(surface: str) -> str:
    """The outward normal of a surface as written in the scenes, e.g. ``"[1̅10]"`` for {110}.

    Examples
    --------
    >>> surface_normal_label("110")
    '[11̅0]'
    """
    return direction_label(SURFACE_NORMALS[str(surface).strip("{}")])


# --------------------------------------------------------------------------- the key
def key_lines(threshold: float = OPACITY_THRESHOLD, surface: bool = False) -> list[str]:
    """The key of a prototype scene as lines of text (exported scenes write these).

    Examples
    --------
    >>> key_lines(1.5)[1]
    'opacity = |value| / 1.5, opaque at |value| ≥ 1.5'
    """
    lines = [
        "colour = sign of the value: red > 0, blue < 0",
        f"opacity = |value| / {threshold:g}, opaque at |value| ≥ {threshold:g}",
        "gold sphere = migrating atom, grey cage = vacant site, arrow = the jump",
        "axes: x " + AXIS_LABELS[0] + ", y " + AXIS_LABELS[1] + ", z " + AXIS_LABELS[2],
    ]
    if surface:
        lines.append("faint plane = the surface plane, teal arrow = its outward normal")
    return lines


def _swatch(color, *, border: bool = False, alpha: float = 1.0) -> str:
    r, g, b = (int(round(255 * c)) for c in color)
    fill = "transparent" if border else f"rgba({r},{g},{b},{alpha:g})"
    return (
        f"<span style='display:inline-block;width:0.9em;height:0.9em;border-radius:50%;"
        f"background:{fill};border:1.5px solid rgb({r},{g},{b});vertical-align:-0.1em'></span>"
    )


def key_html(threshold: float = OPACITY_THRESHOLD, surface: bool = False) -> str:
    """The key of a prototype scene as a small HTML block (the dashboard shows it by every scene).

    Examples
    --------
    >>> "migrating atom" in key_html()
    True
    """
    pos, neg = SIGN_COLORS["positive"], SIGN_COLORS["negative"]
    parts = [
        f"{_swatch(pos)} value &gt; 0 &nbsp; {_swatch(neg)} value &lt; 0",
        f"opacity = |value| / {threshold:g} ({_swatch(pos, alpha=0.25)} {0.25 * threshold:g} · "
        f"{_swatch(pos, alpha=0.5)} {0.5 * threshold:g} · {_swatch(pos)} ≥ {threshold:g})",
        f"{_swatch(JUMP_COLORS['migrating'])} migrating atom &nbsp; {_swatch(JUMP_COLORS['vacancy'], border=True)} "
        "vacant site &nbsp; ➜ the jump [110]",
        "axes x, y, z = " + ", ".join(AXIS_LABELS),
    ]
    if surface:
        parts.append(f"{_swatch(SURFACE_COLOR, alpha=0.35)} surface plane, ➜ its outward normal")
    return "<div class='rbf-key' style='font-size:12px;line-height:1.5'>" + "<br>".join(parts) + "</div>"


def group_key_lines() -> list[str]:
    """One line per site group explaining its code, e.g. ``'C: 1nn of both initial and final site'``."""
    return [f"{g}: {GROUP_DESCRIPTIONS[g]}".replace("(1-10)", "(1̅10)") for g in GROUPS]


def group_key_html() -> str:
    """The group codes with their colours, as HTML (wherever a group code appears)."""
    items = [
        f"<span style='color:{GROUP_COLORS[g]};font-weight:bold'>■ {g}</span> "
        f"{GROUP_DESCRIPTIONS[g].replace('(1-10)', '(1̅10)')}"
        for g in GROUPS
    ]
    return "<div class='rbf-group-key' style='font-size:12px;line-height:1.5'>" + "<br>".join(items) + "</div>"


def site_labels_key_html() -> str:
    """What the site labels of a 3D view show, and where each site's group and value are explained.

    Examples
    --------
    >>> "Q2" in site_labels_key_html()
    True
    """
    return (
        "<div class='rbf-key' style='font-size:12px;line-height:1.5'>Site labels: the site numbers 1-26 on white "
        "tags (Figure 2's numbering). Each site's group (C, I1, F1, P2, Q2: explained in the table's "
        '"group meaning" column) and its value are in the table beside the view.</div>'
    )


# --------------------------------------------------------------------------- reading pictures back
def sign_balance(image: np.ndarray, rows: int = 1, cols: int = 1) -> list[tuple[float, int]]:
    """Per viewport of a rendered scene: (share of red among strongly red or blue pixels, their count).

    The check that a picture shows the prototypes it should, independent of lighting and size:
    the browser's drawing and the library's off-screen render of the same prototypes agree on it.

    Parameters
    ----------
    image : ndarray, shape (height, width, 3 or 4), uint8
        A screenshot of a scene of ``rows`` × ``cols`` equal viewports.

    Examples
    --------
    >>> img = np.zeros((2, 4, 3), np.uint8); img[:, :1] = (220, 20, 20); img[:, 1:2] = (20, 40, 220)
    >>> sign_balance(img, 1, 2)
    [(0.5, 4), (nan, 0)]
    """
    a = np.asarray(image)[..., :3].astype(int)
    red = (a[..., 0] > 150) & (a[..., 1] < 100) & (a[..., 2] < 100)  # (height, width)
    blue = (a[..., 2] > 150) & (a[..., 0] < 100) & (a[..., 1] < 100)
    h, w = a.shape[0] // rows, a.shape[1] // cols
    out = []
    for r in range(rows):
        for c in range(cols):
            tile = np.s_[r * h : (r + 1) * h, c * w : (c + 1) * w]
            nr, n = int(red[tile].sum()), int(red[tile].sum() + blue[tile].sum())
            out.append((nr / n if n else float("nan"), n))
    return out


def same_sign_balance(seen, expected, tolerance: float = 0.2) -> bool:
    """Whether two :func:`sign_balance` readings show the same prototypes.

    A viewport expected (nearly) empty must stay so; otherwise at least 30 % of the expected
    coloured pixels must be there and the red shares must differ by at most ``tolerance``.
    """
    for (share_seen, n_seen), (share_expected, n_expected) in zip(seen, expected, strict=True):
        if n_expected < 50:
            if n_seen > 400:
                return False
            continue
        if n_seen < 0.3 * n_expected or abs(share_seen - share_expected) > tolerance:
            return False
    return True
