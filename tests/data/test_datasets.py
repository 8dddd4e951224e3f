"""rbfviz.data.datasets: loaders, validation messages, round trips, splits, statistics."""

import gzip
import io
import tarfile

import numpy as np
import pytest

from rbfviz.data.datasets import DataFormatError, Dataset, load_barriers, surface_from_name, write_26d


def row(bits, barrier):
    return " ".join(str(b) for b in bits) + f" {barrier}\n"


def make_dataset(n=50, seed=0, surface="100"):
    rng = np.random.default_rng(seed)
    X = np.where(rng.random((n, 26)) < 0.4, 1.0, -1.0)
    return Dataset(X=X, y=rng.normal(0.4, 0.3, n), surface=surface, source="test", metadata={"note": "hand-made"})


GOOD = row([1] * 26, 0.5)


# ----------------------------------------------------------------- validation at the door
@pytest.mark.parametrize(
    "text,line,match",
    [
        ("# c\n" + GOOD + row([1] * 25, 0.3), 3, "expected 27 columns"),
        (GOOD + GOOD + row([1] * 27, 0.3), 3, "expected 27 columns"),
        (GOOD + row([1] * 12 + [2] + [0] * 13, 0.3), 2, "column 13: occupations must be 0 or 1; got '2'"),
        (GOOD + row([1] * 5 + ["x"] + [0] * 20, 0.3), 2, "column 6"),
        ("#\n\n" + GOOD + row([0] * 26, "nan"), 4, "barrier must be a finite number"),
        (GOOD + row([0] * 26, "inf"), 2, "barrier must be a finite number"),
        ("", 1, "no data rows"),
        ("# only a comment\n\n", 1, "no data rows"),
    ],
)
def test_loader_errors_name_file_and_line(tmp_path, text, line, match):
    path = tmp_path / "bad_100.26d"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=match) as info:
        load_barriers(path)
    assert isinstance(info.value, ValueError)
    assert "bad_100.26d" in str(info.value)
    assert f"line {line}" in str(info.value)


def test_error_in_gzip_file_gives_line(tmp_path):
    path = tmp_path / "bad.26d.gz"
    path.write_bytes(gzip.compress((GOOD * 3 + row([0] * 26, "nan")).encode()))
    with pytest.raises(DataFormatError, match=r"bad\.26d\.gz, line 4"):
        load_barriers(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match="cannot read"):
        load_barriers(tmp_path / "nope.26d")


def test_dataset_rejects_bad_arrays():
    with pytest.raises(ValueError, match=r"`X` must hold only -1 .* 2 \* X - 1"):
        Dataset(X=np.zeros((2, 26)), y=[0, 0])
    with pytest.raises(ValueError, match="same length"):
        Dataset(X=np.ones((2, 26)), y=[0.0])
    with pytest.raises(ValueError, match=r"shape \(N, 26\)"):
        Dataset(X=np.ones((2, 25)), y=[0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        Dataset(X=np.ones((1, 26)), y=[np.nan])


def test_arrays_are_read_only_copies():
    X = np.ones((2, 26))
    ds = Dataset(X=X, y=[0.0, 1.0])
    X[0, 0] = -1
    assert ds.X[0, 0] == 1
    with pytest.raises(ValueError):
        ds.X[0, 0] = -1
    with pytest.raises(ValueError):
        ds.y[0] = 3.0


# ----------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", ["data_100.26d", "data_100.26d.gz"])
def test_write_read_round_trip(tmp_path, name):
    ds = make_dataset()
    write_26d(ds, tmp_path / name)
    back = load_barriers(tmp_path / name)
    assert back.surface == "100"
    np.testing.assert_array_equal(back.X, ds.X)
    np.testing.assert_array_equal(back.y, ds.y)
    raw = (tmp_path / name).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")


def test_gzip_detected_by_magic_not_extension(tmp_path):
    ds = make_dataset(10)
    write_26d(ds, tmp_path / "x.26d.gz")
    (tmp_path / "x.26d.gz").rename(tmp_path / "plain_name.26d")
    np.testing.assert_array_equal(load_barriers(tmp_path / "plain_name.26d").y, ds.y)


def test_whitespace_variants_and_inline_comments(tmp_path):
    text = "# header\n\n  " + "\t".join(["1"] * 26) + "   0.25  # inline\r\n" + row([0] * 26, "-1e-3")
    (tmp_path / "w.26d").write_text(text)
    ds = load_barriers(tmp_path / "w.26d", surface="{111}")
    assert ds.surface == "111"
    assert ds.y.tolist() == [0.25, -0.001]
    assert ds.X[0].tolist() == [1.0] * 26 and ds.X[1].tolist() == [-1.0] * 26


def make_tar(tmp_path, surfaces, mode="w:gz"):
    path = tmp_path / "Cu_ANN_processed.tgz"
    datasets = {}
    with tarfile.open(path, mode) as tar:
        for i, s in enumerate(surfaces):
            ds = make_dataset(20 + i, seed=i, surface=s)
            buf = io.BytesIO()
            write_26d(ds, tmp_path / "tmp.26d")
            data = (tmp_path / "tmp.26d").read_bytes()
            info = tarfile.TarInfo(f"Cu_ANN_processed/barriers/Cu_20170906_{s}.26d")
            info.size = len(data)
            buf.write(data)
            buf.seek(0)
            tar.addfile(info, buf)
            datasets[s] = ds
    return path, datasets


def test_tarball_member_selection(tmp_path):
    path, datasets = make_tar(tmp_path, ["100", "110", "111"])
    for s, ds in datasets.items():
        back = load_barriers(path, surface=s)
        assert back.surface == s and len(back) == len(ds)
        np.testing.assert_array_equal(back.y, ds.y)
        assert back.source.endswith(f"Cu_20170906_{s}.26d")
    with pytest.raises(DataFormatError, match=r"several \.26d members .*Cu_20170906_110\.26d"):
        load_barriers(path)


def test_tar_with_one_member_needs_no_surface(tmp_path):
    path, datasets = make_tar(tmp_path, ["110"], mode="w")
    back = load_barriers(path)
    assert back.surface == "110"
    with pytest.raises(DataFormatError, match="no tar member ends in '_100.26d'"):
        load_barriers(path, surface="100")


def test_unreadable_tar_member(tmp_path):
    path, _ = make_tar(tmp_path, ["100"], mode="w")
    raw = bytearray(path.read_bytes())
    trunc = tmp_path / "broken.tar"
    trunc.write_bytes(bytes(raw[:700]))  # header intact, data cut short
    with pytest.raises(DataFormatError, match="broken.tar"):
        load_barriers(trunc)


def test_csv_round_trip_with_named_columns(tmp_path):
    ds = make_dataset(15)
    bits = (ds.X > 0).astype(int)
    order = np.random.default_rng(1).permutation(26)  # columns shuffled in the file
    header = ",".join([f"s{i + 1}" for i in order] + ["barrier"])
    lines = [header] + [",".join([str(b) for b in r[order]] + [repr(float(y))]) for r, y in zip(bits, ds.y)]
    (tmp_path / "data_110.csv").write_text("\n".join(lines) + "\n")
    back = load_barriers(tmp_path / "data_110.csv")
    assert back.surface == "110"
    np.testing.assert_array_equal(back.X, ds.X)
    np.testing.assert_array_equal(back.y, ds.y)


def test_csv_errors(tmp_path):
    (tmp_path / "a.csv").write_text("a,b,c\n1,0,0.3\n")
    with pytest.raises(DataFormatError, match="a.csv, line 1: a CSV header"):
        load_barriers(tmp_path / "a.csv")
    header = ",".join([f"s{i}" for i in range(1, 27)] + ["Em"])
    (tmp_path / "b.csv").write_text(
        header + "\n" + ",".join(["1"] * 26 + ["0.1"]) + "\n" + ",".join(["1"] * 26 + ["nan"]) + "\n"
    )
    with pytest.raises(DataFormatError, match="b.csv, line 3, column 27"):
        load_barriers(tmp_path / "b.csv")


def test_site_order_permutes_columns(tmp_path):
    ds = make_dataset(8)
    write_26d(ds, tmp_path / "d.26d")
    order = np.arange(26)[::-1]
    back = load_barriers(tmp_path / "d.26d", site_order=order)
    np.testing.assert_array_equal(back.X, ds.X[:, ::-1])
    with pytest.raises(ValueError, match="site_order"):
        load_barriers(tmp_path / "d.26d", site_order=[0] * 26)


def test_surface_from_name():
    assert surface_from_name("x/Cu_20170906_110.26d.gz") == "110"
    assert surface_from_name("Cu_20170906.26d") is None


# ----------------------------------------------------------------- splits and statistics
def test_split_sizes_determinism_disjointness():
    ds = make_dataset(100)
    tagged = Dataset(X=ds.X, y=np.arange(100.0))  # y doubles as a row id
    a = tagged.split(60, 15, seed=3)
    b = tagged.split(60, 15, seed=3)
    c = tagged.split(60, 15, seed=4)
    assert [len(p) for p in a] == [60, 15, 25]
    ids = [set(p.y.tolist()) for p in a]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
    assert set.union(*ids) == set(range(100))
    assert all(np.array_equal(p.y, q.y) for p, q in zip(a, b))
    assert not np.array_equal(a[0].y, c[0].y)
    assert a[2].metadata["split"] == {"part": "test", "n_train": 60, "n_val": 15, "n_test": 25, "seed": 3}


def test_split_too_small_and_fractions():
    ds = make_dataset(100)
    with pytest.raises(ValueError, match=r"smaller than the data set size 100.*fractions"):
        ds.split()  # paper defaults need > 110k rows
    train, val, test = ds.split(fractions=(0.7, 0.2), seed=1)
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    with pytest.raises(ValueError, match="fractions"):
        ds.split(fractions=(0.9, 0.2))


def test_occupation_frequencies_hand_count():
    X = -np.ones((4, 26))
    X[[0, 1, 2], 0] = 1
    X[3, 25] = 1
    X[:, 10] = 1
    q = Dataset(X=X, y=np.zeros(4)).occupation_frequencies()
    expected = np.zeros(26)
    expected[0], expected[25], expected[10] = 0.75, 0.25, 1.0
    np.testing.assert_array_equal(q, expected)


def test_describe_and_subset():
    ds = Dataset(X=np.ones((3, 26)), y=[0.0, 0.5, 1.0], surface="100", source="s")
    d = ds.describe()
    assert d["n"] == 3 and d["surface"] == "100" and d["y_min"] == 0.0 and d["y_max"] == 1.0
    assert d["y_mean"] == pytest.approx(0.5)
    assert ds.subset([2]).y.tolist() == [1.0]
    assert len(ds.subset(np.array([], dtype=int))) == 0


def test_written_surface_header_is_read_back(tmp_path):
    """A file written by write_26d keeps its surface even under a neutral file name."""
    from rbfviz.data.datasets import Dataset, load_barriers, write_26d

    X = np.where(np.random.default_rng(0).random((5, 26)) < 0.5, -1.0, 1.0)
    write_26d(Dataset(X, np.linspace(0, 1, 5), surface="111", source="test"), tmp_path / "data.26d")
    assert load_barriers(tmp_path / "data.26d").surface == "111"
    assert load_barriers(tmp_path / "data.26d", surface="100").surface == "100"


def test_data_set_too_small_to_split_names_it(tmp_path):
    path = tmp_path / "tiny_100.26d"
    path.write_text(row([1] * 26, 0.5) * 3)
    ds = load_barriers(path)
    with pytest.raises(ValueError, match=r"tiny_100\.26d\) has 3 rows: too few to split"):
        ds.split(fractions=(0.8, 0.1))
    with pytest.raises(ValueError, match=r"data set size 3 \(.*tiny_100\.26d\)"):
        ds.split(2, 1)
