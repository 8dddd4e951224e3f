"""Tests of rbfviz.viz.export: every format is written, read back and compared."""

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rbfviz.data.lattice import DEFAULT_SITES, FINAL_SITE, HALF_A, INITIAL_SITE
from rbfviz.viz import export
from rbfviz.viz.charts import site_opacity_chart
from rbfviz.viz.prototypes import prototype_table
from rbfviz.viz.scenes import prototype_plotter


@pytest.fixture(scope="module")
def toy_network():
    rng = np.random.default_rng(7)
    return rng.normal(0, 1.2, (5, 26)), np.array([0.2, -0.5, 0.1, 0.35, -0.05])


@pytest.fixture(scope="module")
def chart(toy_network):
    return site_opacity_chart({"{100}": toy_network})


def dpi_of(path):
    return tuple(round(d) for d in Image.open(path).info["dpi"])


# ------------------------------------------------------------------ charts
def test_chart_png_at_300_and_600_dpi(tmp_path, chart):
    p300 = export.export_chart(chart, tmp_path / "c300.png", dpi=300)
    p600 = export.export_chart(chart, tmp_path / "c600.png", dpi=600)
    assert dpi_of(p300) == (300, 300) and dpi_of(p600) == (600, 600)
    w3, h3 = Image.open(p300).size
    w6, h6 = Image.open(p600).size
    assert abs(w6 / w3 - 2) < 0.02 and abs(h6 / h3 - 2) < 0.02
    assert w3 > 1500  # a 7-inch-wide figure at 300 dpi


def test_chart_png_background_white_or_transparent(tmp_path, chart):
    white = np.asarray(Image.open(export.export_chart(chart, tmp_path / "w.png")).convert("RGBA"))
    clear = np.asarray(Image.open(export.export_chart(chart, tmp_path / "t.png", transparent=True)).convert("RGBA"))
    assert white[0, 0].tolist() == [255, 255, 255, 255]
    assert clear[0, 0, 3] == 0 and clear[..., 3].max() == 255


def test_chart_pdf_is_a_vector_page_with_truetype_fonts(tmp_path, chart):
    data = export.export_chart(chart, tmp_path / "c.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    assert b"/FontFile2" in data and b"/Type3" not in data  # pdf.fonttype = 42
    assert b"/Subtype /Image" not in data


def test_chart_svg_parses_and_keeps_text(tmp_path, chart):
    path = export.export_chart(chart, tmp_path / "c.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text") and t.text]
    assert "site" in texts


def test_bad_suffix_and_dpi_are_rejected(tmp_path, chart):
    with pytest.raises(ValueError, match="suffix"):
        export.export_chart(chart, tmp_path / "c.jpg")
    with pytest.raises(ValueError, match="dpi"):
        export.export_chart(chart, tmp_path / "c.png", dpi=0)


# ------------------------------------------------------------------ 3D scenes
def test_plotter_png_dpi_size_and_transparency(tmp_path):
    values = np.zeros(26)
    values[0] = 2.0
    p300 = export.export_plotter(
        prototype_plotter(values, window_size=(160, 120)), tmp_path / "a.png", dpi=300, close=True
    )
    p600 = export.export_plotter(
        prototype_plotter(values, window_size=(160, 120)), tmp_path / "b.png", dpi=600, transparent=True, close=True
    )
    assert dpi_of(p300) == (300, 300) and Image.open(p300).size == (160, 120)
    assert dpi_of(p600) == (600, 600) and Image.open(p600).size == (320, 240)
    rgba = np.asarray(Image.open(p600))
    assert rgba.shape[2] == 4 and rgba[0, 0, 3] == 0 and rgba[..., 3].max() == 255


def test_plotter_pdf_embeds_the_image_on_one_page(tmp_path):
    path = export.export_plotter(
        prototype_plotter(np.zeros(26), window_size=(150, 150)), tmp_path / "s.pdf", close=True
    )
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    assert b"/Subtype /Image" in data


# ------------------------------------------------------------------ data files
def test_prototype_csv_round_trip(tmp_path, toy_network):
    table = prototype_table(toy_network)
    back = pd.read_csv(export.write_csv(table, tmp_path / "p.csv"))
    pd.testing.assert_frame_equal(back, table, check_dtype=False, rtol=1e-9)


def test_sites_csv_round_trip(tmp_path):
    back = pd.read_csv(export.write_csv(export.sites_frame(), tmp_path / "s.csv"))
    np.testing.assert_allclose(back[["x_A", "y_A", "z_A"]].to_numpy(), DEFAULT_SITES.positions)
    assert back["group"].tolist() == list(DEFAULT_SITES.groups)
    assert back["layer_100"].tolist() == DEFAULT_SITES.layers("100").tolist()


def test_extxyz_round_trip(tmp_path, toy_network):
    import ase.io

    values = toy_network[0][1]
    path = export.write_prototype_xyz(values, tmp_path / "p.xyz", info={"prototype": 2, "beta_eV": -0.5})
    atoms = ase.io.read(path, format="extxyz")
    assert len(atoms) == 28
    np.testing.assert_allclose(atoms.arrays["value"][:26], values, rtol=0, atol=1e-8)  # ASE writes 8 decimals
    np.testing.assert_allclose(atoms.positions[:26], DEFAULT_SITES.positions, atol=1e-6)  # Å
    np.testing.assert_allclose(atoms.positions[26], INITIAL_SITE * HALF_A, atol=1e-9)
    np.testing.assert_allclose(atoms.positions[27], FINAL_SITE * HALF_A, atol=1e-9)
    assert atoms.arrays["flag"].tolist() == [0] * 26 + [1, 2]
    assert atoms.arrays["site"].tolist() == list(range(1, 27)) + [0, 0]
    assert atoms.get_chemical_symbols()[-2:] == ["Cu", "X"]
    assert int(atoms.info["prototype"]) == 2 and float(atoms.info["beta_eV"]) == -0.5


# ------------------------------------------------------------------ the whole set
def test_write_figures_writes_the_whole_set(tmp_path, toy_network):
    calls = []
    nets = {"{100}": toy_network, "{111}": (toy_network[0][:3] * 0.5, toy_network[1][:3])}
    files = export.write_figures(nets, tmp_path, dpi=300, progress=lambda *a: calls.append(a))
    names = {f.relative_to(tmp_path).as_posix() for f in files}
    for stem in ("100", "111"):
        assert {
            f"{stem}_prototypes_1.png",
            f"{stem}_prototypes_1.pdf",
            f"{stem}_prototypes.csv",
            f"{stem}_site_opacity.csv",
            f"{stem}_xyz/prototype_01.xyz",
        } <= names
    assert {
        "site_opacity.png",
        "site_opacity.svg",
        "site_opacity.pdf",
        "site_opacity.csv",
        "lattice.png",
        "lattice.pdf",
        "lattice_sites.csv",
    } <= names
    assert not any(n.endswith("prototypes_1.svg") for n in names)  # 3D is raster only
    assert len([n for n in names if n.startswith("100_xyz/")]) == 5
    assert all(f.exists() and f.stat().st_size > 0 for f in files)
    assert calls[-1][0] == calls[-1][1] and [c[0] for c in calls] == list(range(1, len(calls) + 1))
    sheet = Image.open(tmp_path / "100_prototypes_1.png")
    assert sheet.size == (4 * 260, 5 * 260) and dpi_of(tmp_path / "100_prototypes_1.png") == (300, 300)
    opac = pd.read_csv(tmp_path / "site_opacity.csv")
    assert sorted(opac["network"].unique()) == ["{100}", "{111}"] and len(opac) == 52


def test_write_figures_from_a_saved_model_file(tmp_path):
    model_mod = pytest.importorskip("rbfviz.core.model")
    store = pytest.importorskip("rbfviz.core.store")
    net = model_mod.RBFN(26, 3, seed=2)
    net.metadata.update(surface="110", kind="pruned", target_scale=0.25)
    path = tmp_path / "net.safetensors"
    store.save_model(net, path)
    files = export.write_figures(str(path), tmp_path / "out", formats=("png",))
    names = {f.name for f in files}
    assert {"110_prototypes_1.png", "site_opacity.png", "lattice.png"} <= names
    table = pd.read_csv(tmp_path / "out" / "110_prototypes.csv")
    np.testing.assert_allclose(
        table.groupby("prototype")["beta_ev"].first().to_numpy(), 0.25 * net.weights.detach().numpy(), rtol=1e-6
    )


def test_write_figures_rejects_unknown_formats(tmp_path, toy_network):
    with pytest.raises(ValueError, match="formats"):
        export.write_figures(toy_network, tmp_path, formats=("gif",))
