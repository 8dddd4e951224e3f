"""rbfviz.data.formats against hostile and broken files: bounded streaming reads, errors naming the
file and line, atomic writes under SIGKILL and a full disk.

Every hostile file is made here, in tmp_path; none is committed.
"""

import bz2
import gzip
import io
import json
import lzma
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

import rbfviz
from rbfviz.data import formats_stream
from rbfviz.data.datasets import Dataset, load_barriers, write_26d
from rbfviz.data.formats import DataFormatError, read_barrier_file, write_barrier_file

REPO = Path(rbfviz.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}  # subprocesses import this checkout's rbfviz
ROW = (" ".join(["0"] * 26) + " 0.5\n").encode()
COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


def row(bits, barrier):
    return " ".join(str(b) for b in bits) + f" {barrier}\n"


def bomb(path, content: bytes, kind: str, copies: int) -> Path:
    """``copies`` concatenated compressed streams of ``content`` (gzip, bz2 and xz readers all chain them)."""
    path.write_bytes(COMPRESS[kind](content) * copies)
    return path


def tar_bomb(path, member_bytes: int, unit: bytes) -> Path:
    """A .tgz whose one member claims ``member_bytes`` of ``unit`` repeated, as chained gzip streams."""
    info = tarfile.TarInfo("Cu_ANN_processed/barriers/Cu_20170906_100.26d")
    info.size = member_bytes
    copies = member_bytes // len(unit)
    assert copies * len(unit) == member_bytes
    path.write_bytes(gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT)) + gzip.compress(unit) * copies)
    return path


# ----------------------------------------------------------------- memory bound under an address-space cap
CAPPED_READER = r"""
import json, resource, sys
import rbfviz.data.formats as F

def vm_size():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))

headroom, limit = int(sys.argv[1]), int(sys.argv[2])
base = vm_size()
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
resource.setrlimit(resource.RLIMIT_AS, (base + headroom, base + headroom))  # what `ulimit -v` sets
F.MAX_DECOMPRESSED_BYTES = limit
out = {}
for path in sys.argv[3:]:
    try:
        F.read_barrier_file(path)
        out[path] = "accepted"
    except F.DataFormatError as exc:
        out[path] = "DataFormatError: " + str(exc)
    except MemoryError:
        out[path] = "MemoryError"
out["peak_rss_growth"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
print(json.dumps(out))
"""


def test_bombs_fail_clearly_in_bounded_memory(tmp_path):
    """2 GiB bombs (gzip, bz2, xz, tgz; valid rows or one endless line) and a 40 MB one-line file,
    read with 512 MiB of address space above the interpreter's: each is refused naming the file."""
    block = ROW * (2**20 // len(ROW))  # ~1 MiB of valid rows
    rows = {kind: bomb(tmp_path / f"rows_100.26d.{kind}", block, kind, 2**31 // len(block)) for kind in COMPRESS}
    rows["tgz"] = tar_bomb(tmp_path / "rows.tgz", len(block) * (2**31 // len(block)), block)
    line = {kind: bomb(tmp_path / f"line.26d.{kind}", b"0" * 2**20, kind, 2**11) for kind in COMPRESS}
    line["40MB"] = tmp_path / "one_line.26d"
    line["40MB"].write_bytes(b"0 " * (20 * 2**20))  # the 40 MB single-line file
    limit = 16 * 2**20  # the decompressed-bytes limit, lowered so the valid-row bombs trip it quickly
    files = [str(p) for p in [*rows.values(), *line.values()]]
    proc = subprocess.run(
        [sys.executable, "-c", CAPPED_READER, str(512 * 2**20), str(limit), *files],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    for path in rows.values():
        assert out[str(path)].startswith(f"DataFormatError: {path}"), out[str(path)]
        assert f"more than {limit} bytes" in out[str(path)] and "max_bytes" in out[str(path)]
    for path in line.values():
        assert out[str(path)].startswith(f"DataFormatError: {path}, line 1: the line is longer than"), out[str(path)]
    assert out["peak_rss_growth"] < 256 * 2**20, out["peak_rss_growth"]  # above the interpreter's own, all files


# ----------------------------------------------------------------- limits and streaming
def test_long_line_named_by_number_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(formats_stream, "BLOCK", 1000)  # many blocks: line counting must carry across them
    path = tmp_path / "long.26d"
    path.write_bytes(b"# comment\n" + ROW * 40 + ROW[:-1] + b"  # " + b"x" * 5100 + b"\n" + ROW)
    with pytest.raises(DataFormatError, match=r"long\.26d, line 42: the line is longer than 5000 bytes"):
        read_barrier_file(path, max_line_bytes=5000)
    assert len(read_barrier_file(path, max_line_bytes=7000).y) == 42


def test_byte_limit_names_file_and_limit(tmp_path):
    path = tmp_path / "big.26d"
    path.write_bytes(ROW * 100)
    with pytest.raises(DataFormatError, match=r"big\.26d: more than 1000 bytes of file data \(limit max_bytes=1000\)"):
        load_barriers(path, max_bytes=1000)
    assert len(load_barriers(path, max_bytes=len(ROW) * 100).y) == 100
    with pytest.raises(ValueError, match="`max_bytes` must be an int >= 1; got 0"):
        load_barriers(path, max_bytes=0)


@pytest.mark.parametrize("kind", ["plain", "gz", "bz2", "xz"])
def test_streamed_blocks_give_the_same_rows(tmp_path, monkeypatch, kind):
    """Rows cut by block boundaries, comments, odd spacing and an unusual row: same as one-block parsing."""
    rng = np.random.default_rng(3)
    bits = (rng.random((300, 26)) < 0.5).astype(int)
    y = rng.normal(0.5, 0.3, 300)
    lines = ["# header"] + [
        row(b, repr(float(v))).rstrip("\n") + ("  # c" if i % 7 == 0 else "") for i, (b, v) in enumerate(zip(bits, y))
    ]
    lines[150] = " ".join(f"{b}.0" for b in bits[149]) + f"\t{float(y[149])!r}"  # "1.0" occupations: the slower route
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / "s.26d"
    path.write_bytes(text if kind == "plain" else COMPRESS[kind](text))
    monkeypatch.setattr(formats_stream, "BLOCK", 997)
    raw = read_barrier_file(path)
    np.testing.assert_array_equal(raw.bits, bits)
    np.testing.assert_array_equal(raw.y, y)


def test_error_line_numbers_in_later_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(formats_stream, "BLOCK", 500)
    path = tmp_path / "late.26d"
    path.write_text(row([1] * 26, 0.1) * 60 + row([1] * 25, 0.1))
    with pytest.raises(DataFormatError, match=r"late\.26d, line 61: expected 27 columns"):
        read_barrier_file(path)
    header = ",".join([f"s{i}" for i in range(1, 27)] + ["barrier"])
    csv_path = tmp_path / "late.csv"
    csv_path.write_text(
        "# c\n" + header + "\n" + (",".join(["1"] * 26 + ["0.2"]) + "\n") * 50 + ",".join(["2"] * 26 + ["0.2"]) + "\n"
    )
    with pytest.raises(DataFormatError, match=r"late\.csv, line 53, column 1: occupations must be 0 or 1"):
        read_barrier_file(csv_path)


# ----------------------------------------------------------------- truncated, corrupt and absurd input
def test_truncated_and_fake_compressed_files_name_the_file(tmp_path):
    data = ROW * 5000
    for kind, compress in COMPRESS.items():
        whole = compress(data)
        (tmp_path / f"cut.26d.{kind}").write_bytes(whole[: len(whole) // 2])
        with pytest.raises(DataFormatError, match=rf"cut\.26d\.{kind}: the (gzip|bz2|xz) data is (truncated|corrupt)"):
            read_barrier_file(tmp_path / f"cut.26d.{kind}")
    (tmp_path / "fake.26d.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all" * 20)
    with pytest.raises(DataFormatError, match=r"fake\.26d\.gz: the gzip data is corrupt"):
        read_barrier_file(tmp_path / "fake.26d.gz")


def test_truncated_tgz_names_the_file(tmp_path):
    ds = Dataset(X=np.ones((2000, 26)), y=np.full(2000, 0.25), surface="100")
    write_26d(ds, tmp_path / "Cu_100.26d")
    path = tmp_path / "data.tgz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tmp_path / "Cu_100.26d", arcname="barriers/Cu_20170906_100.26d")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataFormatError, match=r"data\.tgz.*truncated") as info:
        load_barriers(path)
    assert not isinstance(info.value.__cause__, DataFormatError) or "data.tgz" in str(info.value)


def test_too_many_tar_members(tmp_path, monkeypatch):
    monkeypatch.setattr(formats_stream, "MAX_TAR_MEMBERS", 5)
    path = tmp_path / "many.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(8):
            info = tarfile.TarInfo(f"empty{i}.txt")
            tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(DataFormatError, match=r"many\.tar: the tar archive holds more than 5 members"):
        read_barrier_file(path)


def test_huge_tar_header_extension_refused(tmp_path):
    """A pax header claiming 64 MiB would be read into memory whole by tarfile; it is refused first."""
    info = tarfile.TarInfo("x_100.26d")
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type, pax.size = tarfile.XHDTYPE, 64 * 2**20
    path = tmp_path / "pax.tgz"
    path.write_bytes(gzip.compress(pax.tobuf(format=tarfile.USTAR_FORMAT) + b"\0" * pax.size + header))
    with pytest.raises(DataFormatError, match=r"pax\.tgz: a tar header extension of 67108864 bytes"):
        read_barrier_file(path)


@pytest.mark.parametrize("barrier", ["1e308", "-1e308", "inf", "1001", "nan"])
def test_absurd_barrier_refused_naming_file_and_line(tmp_path, barrier):
    path = tmp_path / "huge_100.26d"
    path.write_text("# c\n" + row([0] * 26, 0.5) + row([1] * 26, barrier))
    with pytest.raises(DataFormatError, match=r"huge_100\.26d, line 3, column 27: the barrier must be a finite number"):
        load_barriers(path)
    header = ",".join([f"s{i}" for i in range(1, 27)] + ["barrier"])
    csv_path = tmp_path / "huge.csv"
    csv_path.write_text(header + "\n" + ",".join(["1"] * 26 + [barrier]) + "\n")
    with pytest.raises(DataFormatError, match=r"huge\.csv, line 2, column 27"):
        load_barriers(csv_path)
    with pytest.raises(ValueError, match=r"at row 0 \(from-test\)"):
        Dataset(X=np.ones((1, 26)), y=[float(barrier)], source="from-test")


# ----------------------------------------------------------------- atomic writes
WRITER = r"""
import sys
import numpy as np
from rbfviz.data.formats import write_barrier_file
path, n = sys.argv[1], int(sys.argv[2])
bits = np.ones((n, 26), dtype=np.uint8)
while True:
    write_barrier_file(path, bits, np.full(n, 0.5), surface="100")
"""


@pytest.mark.parametrize("name", ["kill_100.26d.gz", "kill_100.26d"])
def test_sigkill_mid_write_leaves_old_or_new_file(tmp_path, name):
    path = tmp_path / name
    n_old, n_new = 10, 200_000
    write_barrier_file(path, np.zeros((n_old, 26)), np.full(n_old, 0.25), surface="100")
    old = path.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n_new)], env=ENV, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the writer is mid-write: a temp file, or the target touched
            if any(p.name.endswith(".tmp") for p in tmp_path.iterdir()) or path.read_bytes() != old:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    back = load_barriers(path)  # never empty or cut short
    assert (len(back), float(back.y[0])) in [(n_old, 0.25), (n_new, 0.5)]
    if len(back) == n_old:
        assert path.read_bytes() == old
    write_barrier_file(path, np.zeros((3, 26)), np.full(3, 0.75))  # the next write removes the killed one's temp file
    assert [p.name for p in tmp_path.iterdir()] == [name]


FULL_DISK = r"""
import resource, signal, sys
import numpy as np
from rbfviz.data.formats import write_barrier_file
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
for path in sys.argv[1:]:
    try:
        write_barrier_file(path, np.ones((50_000, 26)), np.full(50_000, 0.5))
        print("written")
    except OSError as exc:
        print("OSError", exc.errno)
"""


def test_failed_write_keeps_old_file(tmp_path):
    paths = [tmp_path / "full.26d", tmp_path / "full.26d.gz"]
    old = {}
    for path in paths:
        write_barrier_file(path, np.zeros((10, 26)), np.full(10, 0.25))
        old[path] = path.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, *map(str, paths)], env=ENV, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.split("\n")[:2] == ["OSError 27", "OSError 27"], proc.stdout + proc.stderr[-2000:]  # EFBIG
    for path in paths:
        assert path.read_bytes() == old[path]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.26d", "full.26d.gz"]  # no temp file left behind
