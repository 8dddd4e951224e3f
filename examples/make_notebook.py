"""Write examples/explain_a_network.ipynb (cells kept here so the notebook stays reviewable as code).

Run:  python examples/make_notebook.py      (tests/test_notebook.py executes the result with nbclient)
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    (
        "md",
        "# From data to an explained barrier\n"
        "A small end-to-end run of rbfviz (Määttä et al., Neural Networks 2021): Cu migration barriers → a trained\n"
        "RBF network (eq. 2) → a pruned one (eq. 4, Theorem 1) → why it predicts what it does → figures and a KMC\n"
        "export.  Sizes are tiny so that it runs in well under a minute on two CPU cores; raise `N_ROWS`, `K` and `M`\n"
        "for real work (the paper: 110k rows, K = 1024 to 4096, M = 16).",
    ),
    (
        "code",
        "import tempfile\n"
        "from pathlib import Path\n\n"
        "import numpy as np\n\n"
        "import rbfviz\n"
        "from rbfviz import explain, kmc\n\n"
        "N_ROWS, K, M = 800, 24, 4  # data rows, centroids of the large network, prototypes kept\n"
        "OUT = Path(tempfile.mkdtemp(prefix='rbfviz-notebook-'))",
    ),
    ("md", "## 1. Data\nPhysics-based barriers of the {100} surface (the rigid, unrelaxed mode: fast)."),
    (
        "code",
        "data = rbfviz.generate_dataset('100', N_ROWS, seed=0, config=rbfviz.GeneratorConfig(relaxed=False),\n"
        "                               cache_dir=False)\n"
        "data, float(data.y.mean()), float(data.y.std())",
    ),
    ("md", "## 2. A trained network (paper §2.2)"),
    (
        "code",
        "trained = rbfviz.train_dataset(data, K, rbfviz.TrainConfig(max_epochs=6, batch_size=64, seed=0),\n"
        "                               fractions=(0.8, 0.1)).model\n"
        "trained.metadata['metrics']",
    ),
    ("md", "## 3. A pruned network (paper §2.3): M prototypes that mimic the large network under Bernoulli(½) inputs"),
    (
        "code",
        "result = rbfviz.prune_model(trained, M, rbfviz.Bernoulli(0.5), restarts=2,\n"
        "                            config=rbfviz.PruneConfig(max_iterations=60))\n"
        "pruned = result.model\n"
        "X_test = data.X[-200:]\n"
        "rmse = lambda net: float(np.sqrt(np.mean((net.predict(X_test) - data.y[-200:]) ** 2)))\n"
        "{'trained RMSE (eV)': rmse(trained), 'pruned RMSE (eV)': rmse(pruned)}",
    ),
    (
        "md",
        "## 4. Explain one prediction\n"
        "The barrier is exactly α plus one term per prototype, s·β_k·φ_k(x); the terms are sorted from the one that\n"
        "raises the barrier most to the one that lowers it most.",
    ),
    (
        "code",
        "x = data.X[0]\n"
        "e = explain.explain({'large': trained, 'pruned': pruned}, x, data=data, k_nearest=3)\n"
        "s = e.splits['pruned']\n"
        "assert abs(s.total - pruned.predict(x[None])[0]) < 1e-6  # the split is exact\n"
        "large, small = e.predictions['large'], e.predictions['pruned']\n"
        "print(f'data {data.y[0]:.4f} eV, large {large:.4f} eV, pruned {small:.4f} eV')\n"
        "print(f'offset (m + s·α) = {s.offset:+.4f} eV')\n"
        "for row in s.rows():\n"
        "    print(f\"prototype {row['prototype']}: {row['contribution_ev']:+.4f} eV (φ = {row['kernel']:.3f})\")",
    ),
    ("code", "e.nearest"),
    (
        "md",
        "Symmetry check: the C2v images describe the same environment, so a symmetric network gives them the same\n"
        "barrier; the reverse jump is another environment.",
    ),
    ("code", "import pandas as pd\n\npd.DataFrame(e.symmetry)"),
    ("md", "## 5. Figures: site opacity (paper Figure 5) and one prototype"),
    (
        "code",
        "import holoviews as hv\n\n"
        "from rbfviz.viz.charts import site_opacity_chart\n\n"
        "hv.extension('bokeh')\n"
        "site_opacity_chart({'{100} pruned': pruned})",
    ),
    (
        "code",
        "from PIL import Image\n\n"
        "from rbfviz.viz.scenes import render_prototype\n\n"
        "top = int(np.argmax(np.abs(pruned.weights.detach().numpy())))\n"
        "Image.fromarray(render_prototype(pruned.centroids[top].detach().numpy(), window_size=(300, 300)))",
    ),
    ("md", "## 6. For a KMC code: a C99 evaluator, JSON and ONNX, each with test vectors"),
    (
        "code",
        "for fmt, name in (('c', 'cu100.c'), ('json', 'cu100.json'), ('onnx', 'cu100.onnx')):\n"
        "    print(kmc.export(pruned, OUT / name, fmt, prefix='cu100'))",
    ),
    (
        "md",
        "## 7. The dashboard's views in the notebook\n"
        "The app's views are Panel `Viewer`s; after `pn.extension(...)` they render here as in the browser.",
    ),
    (
        "code",
        "import panel as pn\n\n"
        "from rbfviz.app.explain import ExplainState, ExplainView\n"
        "from rbfviz.app.state import AppState\n"
        "from rbfviz.app.workspace import Workspace\n\n"
        "pn.extension('vtk', 'tabulator')\n"
        "state = AppState(workspace=Workspace(folder=str(OUT / 'workspace')), bundled_dir=str(OUT / 'none'))\n"
        "state.add(trained, 'session', dataset=data)\n"
        "state.add(pruned, 'session', dataset=data)\n"
        "explainer = ExplainState(state=state)\n"
        "explainer.set_row(0)\n"
        "ExplainView(explainer=explainer)",
    ),
    ("md", "The Networks view of the same session:"),
    ("code", "from rbfviz.app.networks import NetworksView\n\nNetworksView(state=state)"),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    return nb


if __name__ == "__main__":
    path = Path(__file__).with_name("explain_a_network.ipynb")
    nbformat.write(build(), path)
    print(path)
