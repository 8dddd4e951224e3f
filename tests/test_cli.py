"""The command line: options generated from the settings dataclasses, output paths checked before
any work, no work lost on Ctrl-C, clear errors for bad counts, `info` on odd files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

import rbfviz.core.store as store
import rbfviz.core.train as train_module
from rbfviz import cli
from rbfviz.cli.options import dashed
from rbfviz.core.model import RBFN
from rbfviz.core.prune import PruneConfig
from rbfviz.core.store import FORMAT_NAME, content_hash, load_model, save_model
from rbfviz.core.train import TrainConfig
from rbfviz.core.validate import AutoBool, config_fields
from rbfviz.data.barriers import GeneratorConfig
from rbfviz.data.datasets import Dataset, write_26d


@pytest.fixture
def tiny_data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], (60, 26))
    y = 0.5 + 0.1 * X[:, 0] + 0.05 * X[:, 1] * X[:, 2]
    path = tmp_path / "tiny_100.26d"
    write_26d(Dataset(X=X, y=y, surface="100"), path)
    return path


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if reading the data or training starts (for refusals before any work)."""

    def boom(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(train_module, "train", boom)
    monkeypatch.setattr("rbfviz.data.datasets.load_barriers", boom)


def _train_args(data, out, *extra):
    return ["train", "--data", str(data), "-k", "3", "--n-train", "30", "--n-val", "10", "--out", str(out), *extra]


# --------------------------------------------------------------------------- one source for every setting
def _sample_value(cls, f):
    """A valid value of field ``f`` that differs from its default."""
    if f.type is bool:
        candidates = [not f.default]
    elif f.type is AutoBool:
        candidates = [c for c in ("auto", True, False) if c != f.default]
    elif f.type is int:
        candidates = [3 if f.default is None else f.default + 1]
    elif f.type is float:
        candidates = [f.default * 0.5, f.default * 1.5]
    elif f.type is tuple:
        candidates = [(0.3, 0.7)]
    else:
        candidates = [c for c in ("cpu", "adam", "float64", "never", "cuda", "batched") if c != f.default]
    for value in candidates:
        try:
            cls(**{f.name: value})
            return value
        except (TypeError, ValueError):
            continue
    raise AssertionError(f"no sample value for {cls.__name__}.{f.name}")


def _to_argv(f, value):
    flag = dashed(f.name)
    if f.type is bool:
        return [flag if value else "--no-" + flag[2:]]
    if f.type is tuple:
        return [flag, *map(str, value)]
    if f.type is AutoBool:
        return [flag, {True: "on", False: "off"}.get(value, value)]
    return [flag, str(value)]


BASE = {
    "train": (TrainConfig, ["train", "--data", "x.26d", "-k", "4", "--out", "o.safetensors"]),
    "prune": (PruneConfig, ["prune", "in.safetensors", "--out", "o.safetensors"]),
    "generate": (GeneratorConfig, ["generate", "--surface", "100", "--out", "o.26d"]),
}


@pytest.mark.parametrize("command", sorted(BASE))
def test_cli_options_are_the_config_fields_with_their_defaults_and_docs(command):
    cls, base = BASE[command]
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    options = {}
    for a in sub._actions:
        options.setdefault(a.dest, []).append(a)
    for f in config_fields(cls):
        action = options[f"cfg_{f.name}"][0]  # every field has its option ...
        assert dashed(f.name) in action.option_strings
        doc = " ".join(f.doc.split())
        assert doc and doc in " ".join(action.help.replace("%%", "%").split()) or not f.doc
        assert f"(default: {'None' if f.default is None else f.default})" in action.help
    # ... not given, the dataclass default holds; given, it reaches the dataclass
    assert cli.config_from_args(cls, parser.parse_args(base)) == cls()
    for f in config_fields(cls):
        value = _sample_value(cls, f)
        got = cli.config_from_args(cls, parser.parse_args(base + _to_argv(f, value)))
        assert got == cls(**{f.name: value}), f.name
    # and nothing else of the command's options is a setting of the dataclass under another name
    names = {f.name for f in config_fields(cls)}
    assert {d[4:] for d in options if d.startswith("cfg_")} == names


def test_old_option_spellings_still_work():
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--data", "x", "-k", "2", "--out", "o", "--lr", "0.5", "--compile"])
    assert cli.config_from_args(TrainConfig, args) == TrainConfig(learning_rate=0.5, compile=True)
    args = parser.parse_args(["generate", "--surface", "111", "--out", "o", "--unrelaxed"])
    assert cli.config_from_args(GeneratorConfig, args) == GeneratorConfig(relaxed=False)
    args = parser.parse_args(["train", "--data", "x", "-k", "2", "--out", "o", "--max-epochs", "none"])
    assert cli.config_from_args(TrainConfig, args).max_epochs is None


def test_invalid_setting_is_a_clear_error_before_any_work(tiny_data, tmp_path, capsys, no_training):
    assert cli.main(_train_args(tiny_data, tmp_path / "o.safetensors", "--batch-size", "0")) == 2
    assert "invalid TrainConfig setting: TrainConfig.batch_size" in capsys.readouterr().err


# --------------------------------------------------------------------------- output paths checked first
def test_out_equal_to_data_is_refused_before_work(tiny_data, capsys, no_training):
    before = tiny_data.read_bytes()
    assert cli.main(_train_args(tiny_data, tiny_data)) == 2
    assert "is also an input" in capsys.readouterr().err
    assert tiny_data.read_bytes() == before


def test_out_equal_to_data_through_another_spelling_is_refused(tiny_data, capsys, no_training, monkeypatch):
    monkeypatch.chdir(tiny_data.parent)
    assert cli.main(_train_args(tiny_data, f"./sub/../{tiny_data.name}")) == 2
    assert "is also an input" in capsys.readouterr().err


def test_prune_out_equal_to_its_input_is_refused(tmp_path, capsys, monkeypatch):
    path = tmp_path / "big.safetensors"
    save_model(RBFN(26, 6, seed=0), path)
    before = path.read_bytes()
    monkeypatch.setattr("rbfviz.core.prune.prune", lambda *a, **k: pytest.fail("pruning started"))
    assert cli.main(["prune", str(path), "-m", "2", "--out", str(path)]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "where, message",
    [("missing/net.safetensors", "does not exist"), ("afile/net.safetensors", "is not a folder"), (".", "is a folder")],
)
def test_out_in_a_missing_folder_or_under_a_file_is_refused_before_work(
    tiny_data, tmp_path, capsys, no_training, where, message
):
    (tmp_path / "afile").write_text("x")
    assert cli.main(_train_args(tiny_data, tmp_path / where)) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--n-train", "0"], "`--n-train` must be an int >= 1; got 0."),
        (["--n-val", "-5"], "`--n-val` must be an int >= 1; got -5."),
        (["-k", "0"], "`--centroids` must be an int >= 1; got 0."),
    ],
)
def test_invalid_counts_are_clear_errors(tiny_data, tmp_path, capsys, no_training, extra, message):
    assert cli.main(_train_args(tiny_data, tmp_path / "o.safetensors", *extra)) == 2
    assert message in capsys.readouterr().err


def test_prune_counts_are_checked(tmp_path, capsys):
    path = tmp_path / "big.safetensors"
    save_model(RBFN(26, 6, seed=0), path)
    assert cli.main(["prune", str(path), "-m", "7", "--out", str(tmp_path / "s.safetensors")]) == 2
    assert "--centroids 7 is more than the 6" in capsys.readouterr().err
    assert cli.main(["prune", str(path), "--restarts", "0", "--out", str(tmp_path / "s.safetensors")]) == 2
    assert "`--restarts` must be an int >= 1" in capsys.readouterr().err


# --------------------------------------------------------------------------- Ctrl-C never loses work
def test_cancel_in_the_first_epoch_leaves_an_existing_out_untouched(tiny_data, tmp_path, capsys):
    out = tmp_path / "net.safetensors"
    save_model(RBFN(26, 5, seed=7), out)
    before = out.read_bytes()
    cancel = threading.Event()
    cancel.set()  # Ctrl-C before the first epoch finished
    assert cli.main(_train_args(tiny_data, out), cancel=cancel) == cli.EXIT_CANCELLED
    assert out.read_bytes() == before
    assert "left unchanged" in capsys.readouterr().out


def test_ctrl_c_signal_in_the_first_epoch_is_handled(tiny_data, tmp_path, capsys, monkeypatch):
    """A real SIGINT during the first minibatch: the handler sets the cancel event, training stops
    at the end of that epoch (cancel is checked per epoch, and every 256 minibatches), and only a
    network that has finished that epoch replaces the existing file."""
    import os
    import signal

    out = tmp_path / "net.safetensors"
    save_model(RBFN(26, 5, seed=7), out)
    real = train_module.batch_squared_error_and_grads
    calls = []

    def step(*args):
        if not calls:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during the first minibatch
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(train_module, "batch_squared_error_and_grads", step)
    assert cli.main(_train_args(tiny_data, out, "--batch-size", "8", "--compile", "off")) == cli.EXIT_CANCELLED
    model = load_model(out)
    assert model.num_centroids == 3 and model.metadata["train"]["epochs"] == 1  # one finished epoch, no more
    assert model.metadata["train"]["cancelled"] is True
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_force_saves_the_untrained_network(tiny_data, tmp_path):
    out = tmp_path / "net.safetensors"
    save_model(RBFN(26, 5, seed=7), out)
    cancel = threading.Event()
    cancel.set()
    assert cli.main(_train_args(tiny_data, out, "--force"), cancel=cancel) == cli.EXIT_CANCELLED
    model = load_model(out)
    assert model.num_centroids == 3 and model.metadata["train"]["epochs"] == 0


def test_cancel_after_an_epoch_saves_the_best_so_far(tiny_data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "net.safetensors"
    cancel = threading.Event()
    real = train_module.batch_squared_error_and_grads

    def step_then_cancel(*args):
        cancel.set()  # Ctrl-C during the first epoch's training pass: it finishes, then stops
        return real(*args)

    monkeypatch.setattr(train_module, "batch_squared_error_and_grads", step_then_cancel)
    args = _train_args(tiny_data, out, "--batch-size", "8", "--compile", "off")
    assert cli.main(args, cancel=cancel) == cli.EXIT_CANCELLED
    model = load_model(out)
    assert model.metadata["train"]["epochs"] == 1 and model.metadata["train"]["cancelled"] is True
    assert "cancelled: best so far" in capsys.readouterr().out


def test_train_runs_and_a_failed_save_keeps_the_network(tiny_data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "net.safetensors"
    assert cli.main(_train_args(tiny_data, out, "--max-epochs", "2")) == 0
    assert load_model(out).metadata["name"] == "net"
    # the disk fills up during training: the network goes to the temporary folder
    rescue_dir = tmp_path / "rescue"
    rescue_dir.mkdir()
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(rescue_dir))
    real_save = store.save_model

    def full_disk(model, where):
        if Path(where).parent == tmp_path:
            raise OSError(28, "No space left on device")
        return real_save(model, where)

    monkeypatch.setattr(store, "save_model", full_disk)
    assert cli.main(_train_args(tiny_data, out, "--max-epochs", "1")) == 2
    err = capsys.readouterr().err
    rescued = list(rescue_dir.iterdir())
    assert len(rescued) == 1 and f"saved to {rescued[0]} instead" in err
    assert load_model(rescued[0]).num_centroids == 3


# --------------------------------------------------------------------------- progress
def test_progress_bar_follows_reports(capsys):
    @dataclasses.dataclass
    class Report:
        fraction: float

        def describe(self):
            return f"half way {self.fraction}"

    bar = cli.ProgressBar("work")
    bar(Report(0.5))
    assert bar.bar.n == 50.0 and "half way 0.5" in str(bar.bar)
    bar(3, 4, "chunks")
    assert bar.bar.n == 75.0
    bar.close()


# --------------------------------------------------------------------------- info
def _odd_file(path, meta_text):
    tensors = {
        "bias": torch.tensor(0.5),
        "weights": torch.ones(3),
        "centroids": torch.zeros(3, 26),
        "log_gamma": torch.tensor(-1.0),
    }
    path.write_bytes(st_save(tensors, metadata={"format": FORMAT_NAME, "format_version": "1", "metadata": meta_text}))
    return path


def test_info_prints_validated_metadata_and_warnings_never_a_traceback(tmp_path, capsys):
    odd = _odd_file(
        tmp_path / "odd.safetensors",
        json.dumps(
            {
                "kind": "pruned",
                "metrics": [1, 2],
                "prune": {"restarts": 4},
                "parent_hash": ["x"],
                "name": "n" * 300,
            }
        ),
    )
    text_prune = _odd_file(tmp_path / "text.safetensors", json.dumps({"prune": "x"}))
    deep = _odd_file(tmp_path / "deep.safetensors", '{"a": ' + "[" * 5000 + "]" * 5000 + "}")
    good = tmp_path / "good.safetensors"
    save_model(RBFN(26, 4, seed=0), good)
    assert cli.main(["info", str(odd), str(text_prune), str(deep), str(good)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "pruned with an unknown distribution, 4 restarts" in out
    assert "warning: metadata field `metrics`: expected an object, got list; dropped" in out
    assert "warning: metadata field `parent_hash`" in out and "warning: metadata field `name`" in out
    assert "warning: metadata field `prune`: expected an object, got str; dropped" in out
    assert f"{deep}: metadata is nested 5001 levels deep" in err
    assert f"content hash {content_hash(load_model(good))[:12]}" in out
    capsys.readouterr()
    assert cli.main(["info", "--json", str(odd)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "pruned" and "metrics" not in record and len(record["warnings"]) >= 3


def test_train_then_prune_with_observed_frequencies_and_cancelled_prune_keeps_out(tiny_data, tmp_path, capsys):
    big = tmp_path / "big.safetensors"
    assert cli.main(_train_args(tiny_data, big, "--max-epochs", "1")) == 0
    small = tmp_path / "small.safetensors"
    argv = ["prune", str(big), "-m", "2", "--restarts", "2", "--max-iterations", "5", "--out", str(small)]
    assert cli.main([*argv, "--distribution", "bernoulli-observed"]) == 0
    info = load_model(small).info
    assert info.kind == "pruned" and info.parent_hash == load_model(big).info.content_hash
    assert info.prune.distribution.name == "Bernoulli" and info.prune.config == PruneConfig(max_iterations=5)
    before = small.read_bytes()
    cancel = threading.Event()
    cancel.set()
    assert cli.main(argv, cancel=cancel) == cli.EXIT_CANCELLED
    assert small.read_bytes() == before and "left unchanged" in capsys.readouterr().out


def test_folder_outputs_are_checked_before_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("rbfviz.viz.export.write_figures", lambda *a, **k: pytest.fail("work started"))
    model = tmp_path / "m.safetensors"
    save_model(RBFN(26, 3, seed=0), model)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out, message in ((afile, "exists and is not a folder"), (afile / "sub", "is not a folder")):
        assert cli.main(["figures", "--model", str(model), "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert cli.check_output(tmp_path / "new" / "deeper", folder=True) == tmp_path / "new" / "deeper"


def test_html_writes_one_self_contained_page(tmp_path):
    """`rbfviz html`: one network → the Prototypes page, two → Compare; no links to fetch."""
    paths = []
    for seed, surface in ((1, "100"), (2, "110")):
        net = RBFN(26, 4, seed=seed)
        net.metadata.update(kind="pruned", surface=surface)
        paths.append(tmp_path / f"net{surface}.safetensors")
        save_model(net, paths[-1])
    one, two = tmp_path / "one.html", tmp_path / "two.html"
    assert cli.main(["html", str(paths[0]), "--out", str(one)]) == 0
    assert cli.main(["html", *map(str, paths), "--out", str(two), "--rank", "2"]) == 0
    for page in (one, two):
        text = page.read_text()
        assert "vtk" in text.lower()
        assert not re.search(r"<(script|link)[^>]*(src|href)=\"https?:", text)  # nothing to fetch
    assert "net110" in two.read_text() and "net110" not in one.read_text()
    assert cli.main(["html", str(paths[0]), "--out", str(paths[0])]) == 2  # never over an input
