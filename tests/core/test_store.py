"""Model files: round trips, atomic writes, the reference format, and refusal of bad/hostile files."""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

import rbfviz.core.store as store
from rbfviz.core.metadata import MetadataWarning
from rbfviz.core.model import RBFN
from rbfviz.core.store import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelFileError,
    content_hash,
    load_model,
    save_model,
    save_reference_model,
)


def _params(net):
    return {n: getattr(net, n).detach() for n in ("bias", "weights", "centroids", "log_gamma")}


def _assert_same(a, b):
    for n, t in _params(a).items():
        u = _params(b)[n]
        assert u.dtype == t.dtype and torch.equal(u, t), n


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip(tmp_path, dtype):
    net = RBFN(26, 7, seed=1, dtype=dtype)
    net.metadata.update(
        surface="110",
        name="net",
        target_mean=0.9,
        target_scale=0.3,
        metrics={"test_rmse": 0.05, "bad": float("nan")},
        tags=["a", "b"],
        nested={"x": [1, 2.5]},
    )
    path = tmp_path / "sub" / "net.safetensors"
    with pytest.warns(MetadataWarning, match="unknown metadata field.*`tags`, `nested`"):
        save_model(net, path)  # fields outside the schema are not saved
    back = load_model(path)
    _assert_same(net, back)
    X = np.random.default_rng(0).choice([-1.0, 1.0], (20, 26))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    want = json.loads(json.dumps(store._json_safe(net.metadata)))
    del want["tags"], want["nested"], want["metrics"]["bad"]  # NaN → null → no metric
    assert back.metadata == want
    assert back.metadata["content_hash"] == content_hash(net) == content_hash(back)
    assert back.metadata["versions"]["torch"] and back.metadata["created"].endswith("Z")
    # bytes input works too
    _assert_same(load_model(path.read_bytes()), net)


def test_content_hash_identifies_parameters():
    a, b = RBFN(3, 4, seed=0), RBFN(3, 4, seed=0)
    assert content_hash(a) == content_hash(b)
    with torch.no_grad():
        b.weights[0] += 1e-6
    assert content_hash(a) != content_hash(b)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "net.safetensors"
    save_model(RBFN(3, 4, seed=0), path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model(RBFN(3, 9, seed=1), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["net.safetensors"]  # no temporary file left behind


def test_reference_format_loads_and_predicts_identically(tmp_path):
    net = RBFN(26, 5, seed=2)
    path = tmp_path / "ref.pt.gz"
    save_reference_model(net, path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    back = load_model(path)
    _assert_same(net, back)
    X = np.random.default_rng(1).choice([-1.0, 1.0], (16, 26))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    assert back.metadata["source"].startswith("reference:")


# --------------------------------------------------------------------------- refusals
def _crafted(tensors=None, meta=None, **header):
    tensors = (
        tensors
        if tensors is not None
        else {
            "bias": torch.tensor(0.5),
            "weights": torch.ones(3),
            "centroids": torch.zeros(3, 2),
            "log_gamma": torch.tensor(-1.0),
        }
    )
    info = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "metadata": json.dumps(meta if meta is not None else {"kind": "trained"}),
    }
    info.update(header)
    return st_save(tensors, metadata={k: v for k, v in info.items() if v is not None})


def test_crafted_valid_file_loads():
    net = load_model(_crafted())
    assert net.num_centroids == 3 and net.num_inputs == 2 and float(net.bias.detach()) == 0.5


def test_truncated_file(tmp_path):
    path = tmp_path / "net.safetensors"
    save_model(RBFN(26, 8, seed=0), path)
    data = path.read_bytes()
    for cut in (len(data) - 10, len(data) // 2, 5):
        with pytest.raises(ModelFileError, match="truncated|not a valid safetensors"):
            load_model(data[:cut])
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.safetensors")


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("weights", torch.ones(4), "`weights` must have shape"),
        ("centroids", torch.zeros(3, 2, 1), "`centroids` must have shape"),
        ("bias", torch.zeros(2), "`bias` must have shape"),
        ("log_gamma", torch.zeros(2, 2), "`log_gamma` must have shape"),
        ("weights", torch.ones(3, dtype=torch.int64), "floating-point"),
        ("weights", torch.tensor([1.0, float("nan"), 0.0]), "`weights` contains NaN"),
        ("centroids", torch.full((3, 2), float("inf")), "`centroids` contains NaN"),
        ("log_gamma", torch.tensor(float("nan")), "`log_gamma` contains NaN"),
    ],
)
def test_wrong_shapes_and_non_finite_tensors(key, value, match):
    tensors = {
        "bias": torch.tensor(0.5),
        "weights": torch.ones(3),
        "centroids": torch.zeros(3, 2),
        "log_gamma": torch.tensor(-1.0),
    }
    tensors[key] = value
    with pytest.raises(ModelFileError, match=match):
        load_model(_crafted(tensors))


def test_missing_tensor():
    tensors = {"bias": torch.tensor(0.5), "weights": torch.ones(3), "centroids": torch.zeros(3, 2)}
    with pytest.raises(ModelFileError, match="missing tensor.*log_gamma"):
        load_model(_crafted(tensors))


def test_foreign_format_tag():
    with pytest.raises(ModelFileError, match="not an rbfviz model.*'someone-else'"):
        load_model(_crafted(format="someone-else"))
    with pytest.raises(ModelFileError, match="not an rbfviz model"):
        load_model(st_save({"x": torch.zeros(2)}))  # no metadata at all


def test_non_json_metadata():
    data = st_save(
        {
            "bias": torch.tensor(0.5),
            "weights": torch.ones(3),
            "centroids": torch.zeros(3, 2),
            "log_gamma": torch.tensor(-1.0),
        },
        metadata={"format": FORMAT_NAME, "format_version": "1", "metadata": "{not json"},
    )
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(data)
    with pytest.raises(ModelFileError, match="JSON object"):
        load_model(_crafted(meta=[1, 2]))


def test_newer_format_version():
    with pytest.raises(ModelFileError, match=f"version {FORMAT_VERSION + 1} is newer"):
        load_model(_crafted(format_version=str(FORMAT_VERSION + 1)))
    with pytest.raises(ModelFileError, match="format version 'one' is not an integer"):
        load_model(_crafted(format_version="one"))


class _Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_gzip_torch_save_with_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save(
        {
            "alpha": torch.zeros(1),
            "log_gamma": torch.zeros(1),
            "beta": torch.ones(3),
            "Z": torch.zeros(2, 3),
            "evil": _Hostile(marker),
        },
        buf,
    )
    path = tmp_path / "evil.pt.gz"
    path.write_bytes(gzip.compress(buf.getvalue()))
    with pytest.raises(ModelFileError, match="refused to load"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_plain_pickle_is_refused(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"weights": _Hostile(marker)}, protocol=protocol))
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    if protocol >= 2:
        assert "pickle" in str(info.value)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_zip_torch_save_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save({"evil": _Hostile(marker)}, buf)
    with pytest.raises(ModelFileError, match="never unpickles"):
        load_model(buf.getvalue())
    assert not marker.exists()


def test_gzip_of_garbage_and_incomplete_reference(tmp_path):
    with pytest.raises(ModelFileError, match="not a PyTorch state dict"):
        load_model(gzip.compress(b"hello world"))
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        load_model(gzip.compress(b"x" * 1000)[:20])
    buf = io.BytesIO()
    torch.save({"alpha": torch.zeros(1), "beta": torch.ones(3)}, buf)
    with pytest.raises(ModelFileError, match="lacks"):
        load_model(gzip.compress(buf.getvalue()))


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.safetensors"
    save_model(RBFN(3, 4, seed=0), path)
    monkeypatch.setattr(store, "MAX_FILE_BYTES", 10)
    with pytest.raises(ModelFileError, match="larger than"):
        load_model(path)


def test_header_length_starting_with_pickle_magic_still_loads(tmp_path):
    """A safetensors header whose length's low byte is 0x80 is not mistaken for a pickle."""
    import struct

    net = RBFN(26, 4, seed=0)
    for pad in range(256):  # vary the metadata length until the header length ends in 0x80
        net.metadata["source"] = "x" * pad
        path = tmp_path / "net.safetensors"
        save_model(net, path)
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.skip("could not produce a 0x80 header length")
    assert struct.unpack("<Q", path.read_bytes()[:8])[0] % 256 == 0x80
    assert load_model(path).metadata["source"] == net.metadata["source"]


# --------------------------------------------------------------------------- overflow and bombs
@pytest.mark.parametrize("log_gamma", [1e4, -1e4, 41.0])
def test_log_gamma_that_overflows_is_refused_naming_the_field(log_gamma):
    tensors = {
        "bias": torch.tensor(0.5),
        "weights": torch.ones(3),
        "centroids": torch.zeros(3, 2),
        "log_gamma": torch.tensor(log_gamma),
    }
    with pytest.raises(ModelFileError, match=r"<bytes>: `log_gamma` = .* is outside \[-40, 40\]"):
        load_model(_crafted(tensors))


def test_log_gamma_1e4_reference_file_is_refused(tmp_path):
    net = RBFN(26, 3, seed=0)
    with torch.no_grad():
        net.log_gamma.fill_(1e4)
    path = tmp_path / "ref.pt.gz"
    save_reference_model(net, path)
    with pytest.raises(ModelFileError, match=rf"{path}: `log_gamma`"):
        load_model(path)


def test_predictions_that_overflow_are_refused():
    tensors = {
        "bias": torch.tensor(0.5),
        "weights": torch.full((3,), 3e38),  # each finite, the sum is not
        "centroids": torch.zeros(3, 2),
        "log_gamma": torch.tensor(-1.0),
    }
    with pytest.raises(ModelFileError, match="predictions are not finite"):
        load_model(_crafted(tensors))
    with pytest.raises(ModelFileError, match="physical units overflow.*`target_scale`"):
        load_model(_crafted(meta={"target_scale": 1e308, "target_mean": 1e308}))


def test_gzip_content_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(store, "MAX_DECOMPRESSED_BYTES", 3 * 2**20)
    with pytest.raises(ModelFileError, match=r"<bytes>: gzip content expands beyond the 3145728 byte limit"):
        load_model(gzip.compress(bytes(4 * 2**20)))


def test_gzip_bomb_is_refused_under_an_address_space_cap(tmp_path):
    """A 2.6 MB gzip that expands to 2.5 GiB, loaded with 1.5 GiB of address space to spare
    (``ulimit -v`` in a subprocess): refused with a clear error, not a MemoryError."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    member = gzip.compress(bytes(64 * 2**20), compresslevel=9)  # 64 MiB of zeros in ~64 KB
    path = tmp_path / "bomb.pt.gz"
    path.write_bytes(member * 40)  # concatenated gzip members: one stream of 2.5 GiB
    script = textwrap.dedent(
        """
        import resource, sys
        from rbfviz.core.store import ModelFileError, load_model
        vsz = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        cap = vsz + 1536 * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            load_model(sys.argv[1])
        except ModelFileError as exc:
            print("refused:", exc)
        """
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300, cwd=root, env=env
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"refused: {path}: gzip content expands beyond" in run.stdout


# --------------------------------------------------------------------------- orphans of killed saves
def test_orphan_temp_files_of_killed_saves_are_removed(tmp_path):
    old = tmp_path / ".net.safetensors.rbfviz-abcd1234.tmp"
    other_old = tmp_path / ".other.safetensors.rbfviz-zz_9a8b7.tmp"
    fresh = tmp_path / ".net.safetensors.rbfviz-fresh123.tmp"  # a save in progress elsewhere
    foreign = tmp_path / ".net.safetensors.abcd1234.tmp"  # not our marker
    user = tmp_path / "notes.tmp"
    for p in (old, other_old, fresh, foreign, user):
        p.write_bytes(b"partial")
    for p in (old, other_old, foreign, user):
        os.utime(p, (1e9, 1e9))  # long ago
    save_model(RBFN(3, 2, seed=0), tmp_path / "net.safetensors")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["net.safetensors", fresh.name, foreign.name, user.name])


def test_a_killed_save_leaves_only_a_temp_file_that_the_next_save_removes(tmp_path):
    """SIGKILL in the middle of save_model: the old file is intact, and the orphan goes."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "net.safetensors"
    save_model(RBFN(26, 4, seed=0), path)
    before = path.read_bytes()
    script = (
        "import os, signal, sys\n"
        "import rbfviz.core.store as store\n"
        "from rbfviz.core.model import RBFN\n"
        "store.os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
        "store.save_model(RBFN(26, 8, seed=1), sys.argv[1])\n"
    )
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120
    )
    assert run.returncode == -signal.SIGKILL
    orphans = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(orphans) == 1 and path.read_bytes() == before
    os.utime(orphans[0], (1e9, 1e9))
    save_model(RBFN(26, 4, seed=2), tmp_path / "another.safetensors")
    assert not orphans[0].exists()


def test_oversized_header_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(store, "MAX_HEADER_BYTES", 100)
    with pytest.raises(ModelFileError, match="header of .* bytes is larger than the 100 byte limit"):
        load_model(_crafted())


def test_deeply_nested_safetensors_header_is_refused():
    import struct

    header = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(ModelFileError, match="not a valid safetensors file .header nested 5001 deep"):
        load_model(struct.pack("<Q", len(header)) + header)
