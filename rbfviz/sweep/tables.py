"""A sweep's outputs: the tidy results table, Table 1, the data of Figure 3, Figure 5 over networks.

Examples
--------
>>> t = pd.DataFrame({"surface": ["100"] * 4, "model": ["rbfn", "rbfn", "xgboost", "xgboost"],
...                   "k": [8, 8, None, None], "split": [0, 1, 0, 1], "test_rmse_ev": [0.1, 0.3, 0.2, 0.2]})
>>> table1(t)[["model", "n", "rmse_mean", "rmse_std"]].values.tolist()
[['RBFN (8)', 2, 0.2, 0.1414213562373095], ['XGBoost', 2, 0.2, 0.0]]
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rbfviz.sweep.tasks import write_atomic

FIRST_COLUMNS = ["surface", "model", "k", "m", "distribution", "split", "test_rmse_ev", "seconds"]
MODEL_LABELS = {"xgboost": "XGBoost", "dnn": "DNN"}

# Table 1 of the paper (test RMSE in eV, mean ± one s.d. over ten splits), for side-by-side tables.
PAPER_TABLE1 = {
    "100": {128: (0.0626, 0.0006), 256: (0.0541, 0.0004), 512: (0.0481, 0.0004), 1024: (0.0444, 0.0003),
            2048: (0.0425, 0.0002), 4096: (0.0417, 0.0001), "xgboost": (0.0437, 0.0002), "dnn": (0.0366, 0.0009)},
    "110": {128: (0.0610, 0.0006), 256: (0.0534, 0.0004), 512: (0.0488, 0.0004), 1024: (0.0454, 0.0003),
            2048: (0.0436, 0.0002), 4096: (0.0430, 0.0001), "xgboost": (0.0447, 0.0002), "dnn": (0.0392, 0.0007)},
    "111": {128: (0.1017, 0.0002), 256: (0.0974, 0.0003), 512: (0.0950, 0.0004), 1024: (0.0941, 0.0003),
            2048: (0.0937, 0.0002), 4096: (0.0938, 0.0002), "xgboost": (0.0924, 0.0002), "dnn": (0.0700, 0.0010)},
}  # fmt: skip


# --------------------------------------------------------------------------- the results table
def records_table(records) -> pd.DataFrame:
    """One row per cell record, the grid columns first; nested fields as JSON strings."""
    rows = [{k: json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for k, v in r.items()} for r in records]
    table = pd.DataFrame(rows)
    for col in FIRST_COLUMNS:
        if col not in table.columns:
            table[col] = None
    table = table[FIRST_COLUMNS + [c for c in table.columns if c not in FIRST_COLUMNS]]
    table["surface"] = table["surface"].astype(str)
    for col in ("k", "m", "split"):
        table[col] = pd.array(table[col].tolist(), dtype="Int64")
    for col in ("test_rmse_ev", "seconds"):
        table[col] = table[col].astype(float)
    return table.reset_index(drop=True)


def read_results(out_dir) -> pd.DataFrame:
    """A sweep's results table from ``results.parquet`` (or ``results.csv``)."""
    out = Path(out_dir)
    if (out / "results.parquet").exists():
        return pd.read_parquet(out / "results.parquet")
    if (out / "results.csv").exists():
        return records_table(pd.read_csv(out / "results.csv", dtype={"surface": str}).to_dict("records"))
    raise FileNotFoundError(f"{out}: no results.parquet or results.csv (run a sweep into this folder first)")


# --------------------------------------------------------------------------- Table 1
def _label(model: str, k) -> str:
    return f"RBFN ({int(k)})" if model == "rbfn" else MODEL_LABELS.get(model, model)


def table1(table: pd.DataFrame) -> pd.DataFrame:
    """Mean ± s.d. (ddof 1) of the test RMSE in eV per surface and model (paper Table 1), with the
    paper's value where it reported one."""
    t = table[table["model"].isin(["rbfn", "xgboost", "dnn"])]
    rows = []
    order = {"rbfn": 0, "xgboost": 1, "dnn": 2}
    keys = t[["surface", "model", "k"]].drop_duplicates()
    keys = keys.assign(_o=keys["model"].map(order)).sort_values(["surface", "_o", "k"])
    for _, key in keys.iterrows():
        sel = t[(t["surface"] == key["surface"]) & (t["model"] == key["model"])]
        sel = sel[sel["k"] == key["k"]] if key["model"] == "rbfn" else sel
        v = sel["test_rmse_ev"].astype(float).to_numpy()
        paper = PAPER_TABLE1.get(str(key["surface"]), {}).get(int(key["k"]) if key["model"] == "rbfn" else key["model"])
        rows.append(
            {
                "surface": str(key["surface"]),
                "model": _label(key["model"], key["k"]),
                "k": key["k"] if key["model"] == "rbfn" else None,
                "n": len(v),
                "rmse_mean": float(v.mean()),
                "rmse_std": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                "paper_mean": paper[0] if paper else None,
                "paper_std": paper[1] if paper else None,
            }
        )
    return pd.DataFrame(rows)


def table1_markdown(t1: pd.DataFrame) -> str:
    """Table 1 as Markdown: surface, model, splits, measured mean ± s.d., the paper's."""
    lines = ["| surface | model | splits | test RMSE (eV), mean ± s.d. | paper |", "|---|---|---|---|---|"]
    for _, r in t1.iterrows():
        sd = "–" if np.isnan(r["rmse_std"]) else f"{r['rmse_std']:.4f}"
        paper = f"{r['paper_mean']:.4f} ± {r['paper_std']:.4f}" if pd.notna(r["paper_mean"]) else "–"
        lines.append(f"| {{{r['surface']}}} | {r['model']} | {r['n']} | {r['rmse_mean']:.4f} ± {sd} | {paper} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- Figure 3
def figure3_frames(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(RBFN frame: surface, K, rmse_mean, rmse_std; baseline frame: surface, model, rmse_mean,
    rmse_std) for :func:`rbfviz.viz.charts.accuracy_chart` and ``figure3_chart``."""
    t1 = table1(table)
    rb = t1[t1["k"].notna()].rename(columns={"k": "K"})[["surface", "K", "rmse_mean", "rmse_std"]]
    rb = rb.assign(K=rb["K"].astype(int))
    bl = t1[t1["k"].isna()][["surface", "model", "rmse_mean", "rmse_std"]]
    return rb.reset_index(drop=True), bl.reset_index(drop=True)


def figure3_chart(table: pd.DataFrame, *, title: str = ""):
    """Figure 3 of a sweep: RMSE against K per surface, XGBoost solid and DNN dashed with s.d. bands."""
    from rbfviz.viz.charts import accuracy_baselines_chart

    rb, bl = figure3_frames(table)
    return accuracy_baselines_chart(rb, bl, title=title)


# --------------------------------------------------------------------------- Figure 5 over networks
def pruned_networks(table: pd.DataFrame, out_dir, *, m: int = 16, distribution: str = "bernoulli", k=None) -> dict:
    """{surface: [pruned RBFN, ...]}: the pruned networks of all splits (of the largest K unless
    ``k`` is given)."""
    from rbfviz.core.store import load_model

    t = table[(table["model"] == "pruned") & (table["m"] == m) & (table["distribution"] == distribution)]
    out = {}
    for surface, rows in t.groupby("surface"):
        kk = int(rows["k"].max()) if k is None else int(k)
        rows = rows[rows["k"] == kk].sort_values("split")
        out[str(surface)] = [load_model(Path(out_dir) / p) for p in rows["network"]]
    return out


def figure5_findings(networks: dict) -> pd.DataFrame:
    """The paper's four Figure 5 findings (§3.2.2) tested over networks, not within one.

    Each finding is a difference of normalised opacities that should be positive.  Within a
    surface it is computed per network (paired: mean and s.e. = s.d./√n over the networks);
    between two surfaces it is the difference of the surfaces' means with the Welch standard error
    √(s₁²/n₁ + s₂²/n₂).  A finding ``holds`` when the difference exceeds two standard errors.
    Returns one row per finding: ``finding``, ``surface``, ``diff``, ``se``, ``n``, ``holds``.
    """
    from rbfviz.viz.prototypes import group_opacity_over_networks, opacity_evenness

    groups = {s: group_opacity_over_networks(nets, per_network=True) for s, nets in networks.items()}
    rows = []

    def add(finding, surface, a, b=None):
        a = np.asarray(a, dtype=float)
        if b is None:  # paired, within one surface
            n, diff = len(a), float(a.mean())
            se = float(a.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        else:  # two surfaces
            b = np.asarray(b, dtype=float)
            n, diff = min(len(a), len(b)), float(a.mean() - b.mean())
            se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))) if n > 1 else float("nan")
        rows.append(dict(finding=finding, surface=surface, diff=diff, se=se, n=n, holds=bool(n > 1 and diff > 2 * se)))

    for s, g in groups.items():  # 1. 1nn-type sites above the 2nn-only ones on every surface
        add("1nn-type sites more opaque than 2nn-only", s, g["1nn"] - g["2nn"])
    if "110" in groups:  # 2. {110} sites 23-26 (Q2) less opaque than the other surfaces' 23-26
        for s in groups:
            if s != "110":
                add(f"{{110}} sites 23-26 less opaque than {{{s}}}'s", "110", groups[s]["Q2"], groups["110"]["Q2"])
    if "100" in groups:  # 3. {100} sites 19-22 (P2) the least opaque group
        g = groups["100"]
        add("{100} sites 19-22 the least opaque group", "100", g[["C", "I1", "F1", "Q2"]].min(axis=1) - g["P2"])
    if "111" in groups:  # 4. {111} the most even (smallest coefficient of variation over sites)
        cv = {s: opacity_evenness(nets) for s, nets in networks.items()}
        for s in cv:
            if s != "111":
                add(f"{{111}} more even than {{{s}}}", "111", cv[s], cv["111"])
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- files
def _write_text(path: Path, text: str) -> None:
    write_atomic(path, text.encode())


def write_outputs(table: pd.DataFrame, out_dir) -> dict:
    """results.parquet / .csv (every cell with provenance) and table1.md / .csv; returns the paths."""
    import io

    out = Path(out_dir)
    paths = {"parquet": out / "results.parquet", "csv": out / "results.csv"}
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    write_atomic(paths["parquet"], buf.getvalue())
    _write_text(paths["csv"], table.to_csv(index=False))
    t1 = table1(table) if len(table) else pd.DataFrame()
    if len(t1):
        paths["table1_csv"], paths["table1_md"] = out / "table1.csv", out / "table1.md"
        _write_text(paths["table1_csv"], t1.to_csv(index=False))
        _write_text(paths["table1_md"], table1_markdown(t1))
    if len(table) and (table["model"] == "pruned").any():
        paths.update(write_figure5(table, out))
    return paths


def figure5_tables(table: pd.DataFrame, out_dir, *, m: int = 16, distribution: str = "bernoulli"):
    """(per-site, per-group, findings) tables of Figure 5 over the pruned networks of all splits
    (largest K per surface): mean ± s.d. across networks, and :func:`figure5_findings`."""
    from rbfviz.viz.prototypes import group_opacity_over_networks, site_opacity_over_networks

    nets = pruned_networks(table, out_dir, m=m, distribution=distribution)
    sites = pd.concat([site_opacity_over_networks(v).assign(surface=s) for s, v in nets.items()], ignore_index=True)
    groups = pd.concat([group_opacity_over_networks(v).assign(surface=s) for s, v in nets.items()], ignore_index=True)
    return sites, groups, figure5_findings(nets)


def write_figure5(table: pd.DataFrame, out_dir) -> dict:
    """figure5_sites.csv, figure5_groups.csv and figure5_findings.csv (M = 16, Bernoulli(0.5))."""
    out = Path(out_dir)
    sub = table[(table["model"] == "pruned") & (table["m"] == 16) & (table["distribution"] == "bernoulli")]
    if sub.empty:
        return {}
    paths = {}
    for name, frame in zip(("sites", "groups", "findings"), figure5_tables(table, out)):
        paths[f"figure5_{name}"] = out / f"figure5_{name}.csv"
        _write_text(paths[f"figure5_{name}"], frame.to_csv(index=False))
    return paths
