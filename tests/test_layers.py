"""The package's layers import one way: core ← data ← viz ← app (ARCHITECTURE.md).

Each module's imports are read from its source (every ``import`` statement, also those inside
functions), so a lazy import that crosses a layer upwards is caught too.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rbfviz"
LAYERS = ("core", "data", "viz", "sweep", "app")  # each may import only the ones before it
COMPOSED = ("explain", "kmc")  # top-level library modules over core + data; the app may use them


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "rbfviz" or len(parts) < 2:
        return None
    if parts[1] in COMPOSED:
        return "composed"
    return parts[1] if parts[1] in LAYERS else "top"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: relative import; write `from rbfviz.… import …`")
            if node.module == "rbfviz":
                found.update(f"rbfviz.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_layers_import_one_way(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | ({"composed"} if layer == "app" else set())
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            target = _layer(name)
            if target is not None and target not in allowed:
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not offenders, "imports against the layers:\n" + "\n".join(offenders)


@pytest.mark.parametrize("name", COMPOSED)
def test_composed_modules_import_only_core_and_data(name):
    files = [PACKAGE / f"{name}.py"] if (PACKAGE / f"{name}.py").exists() else sorted((PACKAGE / name).rglob("*.py"))
    assert files, f"rbfviz/{name} not found"
    bad = [m for f in files for m in _imports(f) if _layer(m) not in (None, "core", "data", "composed")]
    assert not bad, f"rbfviz/{name} imports {bad}"


def test_core_runs_without_the_viewing_libraries():
    """The core needs only torch, numpy and safetensors (it runs on a bare GPU machine)."""
    code = (
        "import sys\n"
        "for name in ('panel', 'pyvista', 'vtk', 'holoviews', 'bokeh', 'pandas', 'matplotlib'):\n"
        "    sys.modules[name] = None  # any import of them raises ImportError\n"
        "import rbfviz, rbfviz.core.train, rbfviz.core.prune, rbfviz.core.store, rbfviz.data.barriers\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def test_old_module_paths_are_the_new_modules():
    import rbfviz.barriers
    import rbfviz.core.prune
    import rbfviz.data.barriers
    import rbfviz.prune
    from rbfviz.prune import prune
    from rbfviz.train import TrainConfig

    assert rbfviz.prune is rbfviz.core.prune and prune is rbfviz.core.prune.prune
    assert rbfviz.barriers is rbfviz.data.barriers
    assert TrainConfig is rbfviz.TrainConfig


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "rbfviz", "--help"], capture_output=True, text=True, check=True)
    assert "train" in out.stdout and "prune" in out.stdout


def test_bundled_networks_are_package_data():
    from importlib import resources

    from rbfviz.app.workspace import bundled_models_dir

    names = sorted(p.name for p in (resources.files("rbfviz") / "bundled_models").iterdir())
    assert any(n.endswith("-m16.safetensors") for n in names)
    assert bundled_models_dir().is_dir()
