"""KMC exports: every format against model.predict (and the float64 NumPy reference)."""

import ctypes
import json
import shutil
import subprocess
import threading

import numpy as np
import pytest

from rbfviz import kmc
from rbfviz.core.model import RBFN
from rbfviz.core.store import save_model
from rbfviz.data.lattice import DEFAULT_SITES

TOL_EV = 1e-6


@pytest.fixture(scope="module")
def net():
    model = RBFN(26, 12, seed=3)
    model.metadata.update(target_mean=0.62, target_scale=0.27, surface="111")
    return model


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(7).choice([-1.0, 1.0], size=(300, 26)).astype(np.float32)  # (300, 26)


def test_reference_is_the_model(net, X):
    assert np.abs(kmc.evaluate(kmc.parameters(net), X) - net.predict(X)).max() < TOL_EV


def test_onnx_matches_predict(net, X, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    path = kmc.export(net, tmp_path / "net.onnx", "onnx")
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version >= 17
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, inp.type, inp.shape[1]) == ("occupation", "tensor(float)", 26)
    assert (out.name, out.type) == ("barrier", "tensor(float)")
    (got,) = sess.run(None, {"occupation": X})
    assert got.shape == (len(X),) and got.dtype == np.float32
    assert np.abs(got - net.predict(X)).max() < TOL_EV
    vec = json.loads((tmp_path / "net.onnx.vectors.json").read_text())
    (got_vec,) = sess.run(None, {"occupation": np.asarray(vec["occupation"], dtype=np.float32)})
    assert np.abs(got_vec - np.asarray(vec["barrier_ev"])).max() < TOL_EV


def test_json_round_trip_and_sites(net, X, tmp_path):
    path = kmc.export(net, tmp_path / "net.json", "json")
    doc = json.loads(path.read_text())
    assert doc["input_convention"] == {"occupied": 1.0, "vacant": -1.0}
    assert [s["coords_half_a"] for s in doc["sites"]] == DEFAULT_SITES.coords.tolist()
    assert [s["index"] for s in doc["sites"]] == list(range(1, 27))
    assert doc["target_mean"] == 0.62 and doc["target_scale"] == 0.27
    params = kmc.from_json(path)
    assert np.abs(kmc.evaluate(params, X) - net.predict(X)).max() < TOL_EV
    # bad input names the file and field
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**doc, "gamma": "x"}))
    with pytest.raises(ValueError, match=r"bad\.json: field `gamma`"):
        kmc.from_json(bad)


@pytest.fixture(scope="module")
def c_source(net, tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed (scripts/install.sh --test installs it)")
    folder = tmp_path_factory.mktemp("c")
    return kmc.export(net, folder / "cu111.c", "c", prefix="cu111")


def test_c_example_main_checks_its_vectors(c_source):
    exe = c_source.with_suffix("")
    flags = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2"]
    subprocess.run(["gcc", *flags, "-DCU111_EXAMPLE_MAIN", str(c_source), "-lm", "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    assert "ok: 0 of 18" in out.stdout


def test_c_library_matches_predict(net, X, c_source):
    lib_path = c_source.with_suffix(".so")
    subprocess.run(
        ["gcc", "-std=c99", "-O2", "-shared", "-fPIC", str(c_source), "-lm", "-o", str(lib_path)], check=True
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.cu111_barriers.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p]
    lib.cu111_barrier_bits.argtypes = [ctypes.c_ulong]
    lib.cu111_barrier_bits.restype = ctypes.c_double
    Xd = np.ascontiguousarray(X, dtype=np.float64)  # (N, 26)
    out = np.empty(len(X))
    lib.cu111_barriers(Xd.ctypes.data, len(X), out.ctypes.data)
    assert np.abs(out - net.predict(X)).max() < TOL_EV
    idx = kmc.table_index(X[:20])
    bits = np.array([lib.cu111_barrier_bits(int(i)) for i in idx])
    np.testing.assert_array_equal(bits, out[:20])


def test_c_file_links_into_cpp(net, c_source, tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    main = tmp_path / "main.cpp"
    main.write_text(
        '#include <cstdio>\nextern "C" double cu111_barrier_bits(unsigned long bits);\n'
        'int main() { std::printf("%.12f\\n", cu111_barrier_bits(5UL)); return 0; }\n'
    )
    obj = tmp_path / "cu111.o"
    subprocess.run(["gcc", "-std=c99", "-O2", "-c", str(c_source), "-o", str(obj)], check=True)
    exe = tmp_path / "main"
    subprocess.run(["g++", "-O2", str(main), str(obj), "-lm", "-o", str(exe)], check=True)
    value = float(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout)
    assert abs(value - kmc.evaluate(kmc.parameters(net), kmc.configurations([5]))[0]) < 1e-9


def test_index_configuration_mapping():
    idx = np.array([0, 1, 2, 3, 2**25, 2**26 - 1, 12345678])
    X = kmc.configurations(idx)  # (7, 26)
    assert X.shape == (7, 26) and set(np.unique(X)) == {-1.0, 1.0}
    # bit s is site s + 1: index 2^s occupies exactly site s + 1
    for s in (0, 5, 25):
        row = kmc.configurations([2**s])[0]
        assert row[s] == 1 and (np.delete(row, s) == -1).all()
    np.testing.assert_array_equal(kmc.table_index(X), idx)
    rng = np.random.default_rng(0)
    Y = rng.choice([-1.0, 1.0], size=(50, 26))
    np.testing.assert_array_equal(kmc.configurations(kmc.table_index(Y)), Y)
    with pytest.raises(ValueError, match="indices"):
        kmc.configurations([2**26])


def test_full_table_of_a_small_network(tmp_path):
    small = RBFN(10, 5, seed=1)
    small.metadata.update(target_mean=0.5, target_scale=0.2)
    reports = []
    path = kmc.export(small, tmp_path / "t.bin", "table", progress=reports.append)
    table = kmc.read_table(path, num_sites=10)
    assert table.shape == (1024,)
    X = kmc.configurations(np.arange(1024), num_sites=10)
    assert np.abs(table - small.predict(X)).max() < TOL_EV
    assert reports[-1].fraction == 1.0
    with pytest.raises(ValueError, match="bytes"):
        kmc.read_table(path, num_sites=11)


def test_table_chunks_of_the_26_site_network_at_sampled_indices(net):
    rng = np.random.default_rng(1)
    for start in (0, 2**26 - 3000, int(rng.integers(0, 2**26 - 3000))):
        got = np.concatenate([v for _, v in kmc.table_chunks(net, start=start, stop=start + 3000, chunk_size=1024)])
        sample = rng.choice(3000, size=200, replace=False)
        X = kmc.configurations(start + sample)
        assert np.abs(got[sample] - kmc.evaluate(kmc.parameters(net), X)).max() < TOL_EV


def test_table_cancel_keeps_the_old_file(tmp_path):
    small = RBFN(12, 3, seed=2)
    path = tmp_path / "t.bin"
    path.write_bytes(b"old")
    cancel = threading.Event()
    seen = []

    def progress(report):
        seen.append(report.fraction)
        cancel.set()

    with pytest.raises(kmc.TableCancelled, match="1 of 4"):
        kmc.build_table(small, path, chunk_size=1024, progress=progress, cancel=cancel)
    assert path.read_bytes() == b"old" and seen == [0.25]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.bin"]


def test_bad_format_names_the_argument(net, tmp_path):
    with pytest.raises(ValueError, match="`format` must be one of"):
        kmc.export(net, tmp_path / "x", "csv")


def test_cli_export_kmc(net, tmp_path):
    from rbfviz.cli import main

    model_path = tmp_path / "net.safetensors"
    save_model(net, model_path)
    assert main(["export-kmc", str(model_path), "--format", "json", "--out", str(tmp_path / "net.json")]) == 0
    params = kmc.from_json(tmp_path / "net.json")
    X = kmc.configurations([0, 99, 2**26 - 1])
    assert np.abs(kmc.evaluate(params, X) - net.predict(X)).max() < TOL_EV
    assert main(["export-kmc", str(tmp_path / "missing.safetensors"), "--format", "c", "--out", "x.c"]) == 1


def test_cli_export_kmc_table(tmp_path):
    from rbfviz.cli import main

    small = RBFN(8, 3, seed=4)
    save_model(small, tmp_path / "small.safetensors")
    out = tmp_path / "small.table"
    assert main(["export-kmc", str(tmp_path / "small.safetensors"), "--format", "table", "--out", str(out)]) == 0
    X = kmc.configurations(np.arange(256), num_sites=8)
    assert np.abs(kmc.read_table(out, num_sites=8) - small.predict(X)).max() < TOL_EV


def test_c_file_binds_to_fortran_through_its_documented_interface(net, c_source, tmp_path):
    if shutil.which("gfortran") is None:
        pytest.skip("gfortran not installed")
    text = c_source.read_text()
    start, end = text.index(" *   interface"), text.index(" *   end interface")
    interface = "\n".join(line[3:] for line in text[start:end].splitlines()) + "\n  end interface\n"
    program = tmp_path / "check.f90"
    program.write_text(
        "program check\n  use iso_c_binding, only: c_double, c_long\n  implicit none\n"
        + interface
        + "  real(c_double) :: x(26)\n  x = -1.0_c_double\n  x(1) = 1.0_c_double\n  x(3) = 1.0_c_double\n"
        "  print '(ES25.17)', cu111_barrier(x)\n  print '(ES25.17)', cu111_barrier_bits(5_c_long)\n"
        "end program check\n"
    )
    obj, exe = tmp_path / "cu111.o", tmp_path / "check"
    subprocess.run(["gcc", "-std=c99", "-O2", "-c", str(c_source), "-o", str(obj)], check=True)
    subprocess.run(["gfortran", "-std=f2008", str(program), str(obj), "-o", str(exe)], check=True)
    values = [float(v) for v in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    expected = kmc.evaluate(kmc.parameters(net), kmc.configurations([5]))[0]  # sites 1 and 3 occupied
    assert values[0] == pytest.approx(expected, abs=1e-12) and values[1] == pytest.approx(expected, abs=1e-12)
