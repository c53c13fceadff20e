"""Manifests, verify and fetch (against a loopback HTTP server with Range support)."""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import threading

import numpy as np
import pytest
import yaml

from depthstudy.data.manifest import (
    DataFetchError,
    DataVerificationError,
    UnknownManifestError,
    cli_fetch,
    cli_verify,
    fetch,
    load_manifest,
    verify,
)
from depthstudy.data.nyu_fixture import write_fixture_root
from depthstudy.data.nyuv2 import NYUv2Labeled

PAYLOAD = np.random.default_rng(0).integers(0, 256, size=50_000, dtype=np.uint8).tobytes()
LIST_TEXT = b"a/rgb_00000.jpg a/sync_depth_00000.png 518.8579\nb/rgb_00001.jpg b/sync_depth_00001.png 518.8579"


class Server:
    """Serve ``files`` (url path -> bytes) on 127.0.0.1; record each request's path and Range header."""

    def __init__(self, files: dict[str, bytes], honour_range: bool = True) -> None:
        self.files, self.honour_range, self.requests, self.sent = files, honour_range, [], 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                start = int(m.group(1)) if (m and server.honour_range) else 0
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])
                server.sent += len(data) - start

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def write_manifest(folder, base_url, sha=None, extra=()):
    entries = [
        {"name": "blob.bin", "url": f"{base_url}/blob.bin", "bytes": len(PAYLOAD),
         "sha256": sha or hashlib.sha256(PAYLOAD).hexdigest()},
        {"name": "lists/files.txt", "url": f"{base_url}/files.txt", "lines": 2},
        *extra,
    ]
    path = folder / "toy.yaml"
    path.write_text(yaml.safe_dump({"name": "toy", "files": entries}))
    return folder


@pytest.fixture()
def dirs(tmp_path):
    (tmp_path / "manifests").mkdir()
    return tmp_path / "manifests", tmp_path / "data"


def test_project_manifests_load():
    nyu = load_manifest("nyuv2")
    files = {f["name"]: f for f in nyu["files"]}
    assert files["nyu_depth_v2_labeled.mat"]["bytes"] == 2972037809
    assert files["nyu_depth_v2_labeled.mat"]["sha256"].startswith("2d724b0c")
    assert files["splits.mat"]["bytes"] == 2626 and files["classMapping40.mat"]["bytes"] == 10474
    assert nyu["splits"]["train"]["count"] == 795 and nyu["splits"]["test"]["count"] == 654
    assert nyu["evaluation"]["crops"]["eigen"] == [20, 460, 24, 616]
    assert nyu["evaluation"]["crops"]["bts"] == [45, 471, 41, 601]
    bts = load_manifest("nyuv2_bts")
    assert {f["name"]: f.get("lines") for f in bts["files"]}["nyudepthv2_train_files_with_gt.txt"] == 24231
    assert bts["layout"]["depth_png"]["scale"] == 1000


def test_unknown_and_malformed_manifests(dirs):
    with pytest.raises(UnknownManifestError, match=r"'nyu'.*nyuv2.*nyuv2_bts"):
        load_manifest("nyu")
    mdir, _ = dirs
    (mdir / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "files": [{"name": "x", "sha256": "abc"}]}))
    with pytest.raises(ValueError, match=r"files\[0\]: sha256='abc'"):
        load_manifest("bad", manifest_dir=mdir)
    assert load_manifest(write_manifest(mdir, "http://x") / "toy.yaml")["name"] == "toy"  # by path


def test_fetch_then_nothing_to_do(dirs):
    mdir, root = dirs
    with Server({"/blob.bin": PAYLOAD, "/files.txt": LIST_TEXT}) as srv:
        write_manifest(mdir, srv.url)
        got = fetch("toy", root, progress=False, manifest_dir=mdir)
        assert got == [root / "blob.bin", root / "lists/files.txt"]
        assert (root / "blob.bin").read_bytes() == PAYLOAD and (root / "lists/files.txt").read_bytes() == LIST_TEXT
        assert not list(root.rglob("*.part"))
        mtime = (root / "blob.bin").stat().st_mtime_ns
        n_requests = len(srv.requests)
        assert fetch("toy", root, progress=False, manifest_dir=mdir) == []
        assert len(srv.requests) == n_requests and (root / "blob.bin").stat().st_mtime_ns == mtime
    assert [s.ok for s in verify("toy", root, manifest_dir=mdir)] == [True, True]


def test_fetch_resumes_a_partial_download(dirs):
    mdir, root = dirs
    root.mkdir()
    (root / "blob.bin.part").write_bytes(PAYLOAD[:12_345])
    with Server({"/blob.bin": PAYLOAD, "/files.txt": LIST_TEXT}) as srv:
        write_manifest(mdir, srv.url)
        fetch("toy", root, progress=False, manifest_dir=mdir)
    assert ("/blob.bin", "bytes=12345-") in srv.requests
    assert srv.sent == len(PAYLOAD) - 12_345 + len(LIST_TEXT)
    assert (root / "blob.bin").read_bytes() == PAYLOAD and not (root / "blob.bin.part").exists()


def test_fetch_restarts_when_range_is_ignored(dirs):
    mdir, root = dirs
    root.mkdir()
    (root / "blob.bin.part").write_bytes(PAYLOAD[:1000])
    with Server({"/blob.bin": PAYLOAD, "/files.txt": LIST_TEXT}, honour_range=False) as srv:
        write_manifest(mdir, srv.url)
        fetch("toy", root, progress=False, manifest_dir=mdir)
    assert (root / "blob.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_is_an_error(dirs):
    mdir, root = dirs
    with Server({"/blob.bin": PAYLOAD, "/files.txt": LIST_TEXT}) as srv:
        write_manifest(mdir, srv.url, sha="0" * 64)
        with pytest.raises(DataFetchError, match=r"blob\.bin: sha256 [0-9a-f]{64} does not match.*blob\.bin\.bad"):
            fetch("toy", root, progress=False, manifest_dir=mdir)
    assert not (root / "blob.bin").exists() and not (root / "blob.bin.part").exists()
    assert (root / "blob.bin.bad").read_bytes() == PAYLOAD
    assert (root / "lists/files.txt").read_bytes() == LIST_TEXT  # the other file still came


def test_no_network_error(dirs):
    mdir, root = dirs
    url = closed_port_url()
    write_manifest(mdir, url)
    with pytest.raises(DataFetchError) as err:
        fetch("toy", root, progress=False, manifest_dir=mdir)
    msg = str(err.value)
    assert f"{url}/blob.bin" in msg and f"{url}/files.txt" in msg
    assert f"download it by hand into {root / 'blob.bin'}" in msg and "depthstudy data verify toy" in msg
    assert not (root / "blob.bin").exists()


def test_mirror_is_used_when_the_url_fails(dirs):
    mdir, root = dirs
    with Server({"/blob.bin": PAYLOAD, "/files.txt": LIST_TEXT}) as srv:
        extra = [{"name": "copy.bin", "url": f"{closed_port_url()}/blob.bin", "mirrors": [f"{srv.url}/blob.bin"],
                  "bytes": len(PAYLOAD)}]
        write_manifest(mdir, srv.url, extra=extra)
        fetch("toy", root, progress=False, manifest_dir=mdir)
    assert (root / "copy.bin").read_bytes() == PAYLOAD


def test_entries_without_url_explain_how_to_obtain(dirs):
    mdir, root = dirs
    entry = {"name": "sync", "kind": "dir", "url": None, "obtain": "unzip sync.zip from Google Drive"}
    (mdir / "toy.yaml").write_text(yaml.safe_dump({"name": "toy", "files": [entry]}))
    with pytest.raises(DataFetchError, match=r"sync: cannot be downloaded automatically.*unzip sync\.zip"):
        fetch("toy", root, progress=False, manifest_dir=mdir)
    (root / "sync").mkdir()
    assert fetch("toy", root, progress=False, manifest_dir=mdir) == []


def test_verify_reports_every_problem(dirs):
    mdir, root = dirs
    write_manifest(mdir, "http://unused", extra=[{"name": "other.bin", "bytes": 3}])
    with pytest.raises(DataVerificationError) as err:
        verify("toy", root, manifest_dir=mdir)
    assert [s.exists for s in err.value.statuses] == [False, False, False]
    assert str(err.value).count("missing file") == 3
    root.mkdir()
    (root / "lists").mkdir()
    (root / "blob.bin").write_bytes(b"x" + PAYLOAD[1:])           # right size, wrong sha
    (root / "lists/files.txt").write_bytes(LIST_TEXT + b"\nc d\n")  # three lines
    (root / "other.bin").write_bytes(b"toolong")
    with pytest.raises(DataVerificationError) as err:
        verify("toy", root, manifest_dir=mdir)
    msg = str(err.value)
    assert "blob.bin: sha256" in msg and "files.txt: 3 non-empty lines, expected 2" in msg
    assert "other.bin: size 7 bytes, expected 3" in msg and "3 problem(s)" in msg
    statuses = {s.name: s for s in err.value.statuses}
    assert statuses["blob.bin"].sha256 == hashlib.sha256(b"x" + PAYLOAD[1:]).hexdigest()
    (root / "other.bin").write_bytes(b"abc")
    (root / "lists/files.txt").write_bytes(LIST_TEXT)
    assert all(s.ok for s in verify("toy", root, checksums=False, manifest_dir=mdir))


def test_invalid_present_file_is_set_aside_and_refetched(dirs):
    mdir, root = dirs
    root.mkdir()
    (root / "blob.bin").write_bytes(b"stale")
    with Server({"/blob.bin": PAYLOAD, "/files.txt": LIST_TEXT}) as srv:
        write_manifest(mdir, srv.url)
        fetch("toy", root, progress=False, manifest_dir=mdir)
    assert (root / "blob.bin").read_bytes() == PAYLOAD and (root / "blob.bin.bad").read_bytes() == b"stale"


def test_cli_functions(dirs, capsys):
    mdir, root = dirs
    write_manifest(mdir, closed_port_url())
    assert cli_verify("toy", root, manifest_dir=mdir) == 1
    assert "PROBLEM  blob.bin" in capsys.readouterr().out
    assert cli_fetch("toy", root, manifest_dir=mdir) == 1
    assert "blob.bin" in capsys.readouterr().err
    assert cli_verify("nope", root, manifest_dir=mdir) == 2
    with Server({"/blob.bin": PAYLOAD, "/files.txt": LIST_TEXT}) as srv:
        write_manifest(mdir, srv.url)
        assert cli_fetch("toy", root, manifest_dir=mdir) == 0
    assert cli_verify("toy", root, manifest_dir=mdir) == 0
    assert "all 2 entries verified" in capsys.readouterr().out


def test_fetch_nyu_fixture_end_to_end(tmp_path):
    """Serve the fixture NYU files under their manifest names; fetch, verify, then load them."""
    src = tmp_path / "src"
    write_fixture_root(src, n_images=3, height=6, width=8)
    blobs = {p.name: p.read_bytes() for p in src.iterdir()}
    with Server({f"/{name}": data for name, data in blobs.items()}) as srv:
        entries = [{"name": n, "url": f"{srv.url}/{n}", "bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                   for n, d in blobs.items()]
        (tmp_path / "nyu_fixture.yaml").write_text(yaml.safe_dump({"name": "nyu_fixture", "files": entries}))
        fetch(tmp_path / "nyu_fixture.yaml", tmp_path / "nyu", progress=False)
    assert len(verify(tmp_path / "nyu_fixture.yaml", tmp_path / "nyu")) == 3
    assert len(NYUv2Labeled(tmp_path / "nyu", split="test", classes=4)) == 2


def test_invalid_present_file_is_kept_when_the_download_fails(dirs):
    """No network: the invalid file stays where it was (no .bad), and the error says so."""
    mdir, root = dirs
    root.mkdir()
    (root / "blob.bin").write_bytes(b"stale")
    write_manifest(mdir, closed_port_url())
    with pytest.raises(DataFetchError, match=r"blob\.bin is left as it was"):
        fetch("toy", root, progress=False, manifest_dir=mdir)
    assert (root / "blob.bin").read_bytes() == b"stale" and not (root / "blob.bin.bad").exists()
