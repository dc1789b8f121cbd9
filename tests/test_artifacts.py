"""The external-file registry (data/<ANA>/artifacts.yaml) and recast.artifacts: mirror, cache,
download (from a local HTTP server on 127.0.0.1 only), add, verify, and the ``recast data`` CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from recast import artifacts
from recast.cli import main
from recast.errors import ArtifactError
from recast.paths import data_dir

SHARED_MIRROR = Path(__file__).resolve().parents[2] / "shared" / "hepdata"
ANA22, ANA30, ANA04 = "ANA-SUSY-2018-22", "ANA-SUSY-2018-30", "ANA-SUSY-2019-04"
XML1 = "ZeroLepton2018-SRBDT-GGd1_weight1.xml"
XML2 = "ZeroLepton2018-SRBDT-GGo4_weight2.xml"
WS = "BDT-GGd1_bkgonly.json"
ONNX4 = "OneLeptonMultiJets2018_4jets.onnx"


def _mirror() -> Path:
    """The shared mirror: the first directory on RECAST_DATA_MIRROR (as CI sets it), else ../shared/hepdata."""
    first = (os.environ.get("RECAST_DATA_MIRROR") or "").split(os.pathsep)[0]
    return Path(first) if first else SHARED_MIRROR


MIRROR = _mirror()


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    """A private cache, the shared mirror, online, default resolvers, no proxy for 127.0.0.1."""
    monkeypatch.setenv("RECAST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RECAST_DATA_MIRROR", str(MIRROR))
    for var in ("RECAST_OFFLINE", "RECAST_DOI_RESOLVER", "RECAST_GITHUB_RAW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("RECAST_HTTP_TIMEOUT", "10")
    return tmp_path


def _mirror_bytes(a: artifacts.Artifact) -> bytes:
    return (MIRROR / a.analysis / a.mirror_path).read_bytes()


def _cache_files(tmp_path: Path) -> list[str]:
    root = tmp_path / "cache" / "artifacts"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- registry integrity (what CI checks) ---------------------------------------------------------


def test_registries_and_counts():
    assert artifacts.analyses_with_artifacts() == [ANA22, ANA30, ANA04]
    reg = {ana: artifacts.registry(ana) for ana in artifacts.analyses_with_artifacts()}
    kinds22 = [a.id.rsplit(".", 1)[1] for a in reg[ANA22]]
    assert kinds22.count("xml") == 16
    assert sum(a.resource.key == "r9" for a in reg[ANA22]) == 18
    assert sum(a.id.startswith("smodels_simplified_MB-") for a in reg[ANA22]) == 3
    assert len(reg[ANA22]) == 37
    assert sum(a.id.endswith(".onnx") for a in reg[ANA04]) == 5
    assert sum(a.id.endswith(".slha") for a in reg[ANA04]) == 5
    assert [a.id for a in reg[ANA04] if a.id.endswith(".json")] == ["golden_outputs.json"]
    assert [a.id for a in reg[ANA30]] == ["ANA-SUSY-2018-30_config.json", "ANA-SUSY-2018-30_model.onnx"]
    onnx30 = artifacts.get("ATLAS-SUSY-2018-30", "ANA-SUSY-2018-30_model.onnx")  # alias spelling
    assert onnx30.sha256 is None and onnx30.size is None
    assert onnx30.git_blob == "111abd3d2725ba22b7da1baa01689ad424d7bd1f"


@pytest.mark.parametrize("ana", [ANA22, ANA30, ANA04])
def test_registry_file_is_consistent(ana):
    """Unique ids, every referenced resource exists, DOI links match their DOI, members are sane."""
    doc = yaml.safe_load((data_dir() / ana / "artifacts.yaml").read_text())
    assert doc["analysis"] == ana
    ids = [e["id"] for e in doc["artifacts"]]
    assert len(ids) == len(set(ids))
    used = {e["resource"] for e in doc["artifacts"] if e.get("resource")}
    used |= {alt["resource"] for e in doc["artifacts"] for alt in e.get("alternatives") or []}
    assert used <= set(doc["resources"]), used - set(doc["resources"])
    for key, r in doc["resources"].items():
        if r["kind"] == "hepdata":
            assert r["url"] == "https://doi.org/" + r["doi"] and r["doi"].startswith("10.17182/hepdata.")
    for e in doc["artifacts"]:
        assert e.get("sha256") or e.get("git_blob"), e["id"]
        assert e.get("description"), e["id"]
        if e.get("member"):
            assert Path(e["member"]).name == e["id"] or doc["resources"][e["resource"]]["kind"] == "github"


def test_every_pinned_artifact_has_a_verified_mirror_copy():
    for ana in artifacts.analyses_with_artifacts():
        for a in artifacts.registry(ana):
            if a.sha256 is None:
                continue
            path = artifacts.locate(a)
            assert path is not None, f"{ana} {a.id}: no copy under {MIRROR}"
            assert path == MIRROR / ana / a.mirror_path
            assert artifacts.problem(a, path, fresh=True) is None
            assert hashlib.sha256(path.read_bytes()).hexdigest() == a.sha256
            if a.git_blob:
                assert artifacts.git_blob_of(path.read_bytes()) == a.git_blob


def test_mirror_lookup_order_and_bad_mirror_copy(tmp_path, monkeypatch):
    a = artifacts.get(ANA22, XML1)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / XML1).write_bytes(_mirror_bytes(a))
    monkeypatch.setenv("RECAST_DATA_MIRROR", os.pathsep.join([str(tmp_path / "nowhere"), str(flat)]))
    assert artifacts.locate(a) == flat / XML1  # <dir>/<id>
    bad = tmp_path / "bad"
    (bad / ANA22).mkdir(parents=True)
    data = bytearray(_mirror_bytes(a))
    data[100] ^= 1
    (bad / ANA22 / a.mirror_path).write_bytes(bytes(data))
    monkeypatch.setenv("RECAST_DATA_MIRROR", os.pathsep.join([str(bad), str(flat)]))
    with pytest.raises(ArtifactError, match=r"sha256 mismatch for ZeroLepton2018-SRBDT-GGd1_weight1\.xml: "
                                            r"expected 39b614c9.*found .*refusing it"):
        artifacts.locate(a)
    with pytest.raises(ArtifactError, match="refusing it"):
        artifacts.fetch(a, offline=True)
    (bad / ANA22 / a.mirror_path).write_bytes(b"short")
    with pytest.raises(ArtifactError, match="size mismatch"):
        artifacts.locate(a)


# -- the download path, against a local server ---------------------------------------------------


class Server:
    """http.server on 127.0.0.1 in a thread. ``routes[path] = (status, body, headers)``; every
    request is recorded in ``requests`` as (path, Accept header)."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append((self.path, self.headers.get("Accept", "")))
                status, body, headers = outer.routes.get(self.path, (404, b"not found", {}))
                self.send_response(status)
                for k, v in {"Content-Type": "application/octet-stream", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def serve_doi(self, doi: str, body: bytes, content_type: str = "application/x-tar") -> None:
        """``/<doi>`` answers with a 302 to a landing path (as doi.org does), which serves ``body``."""
        landing = "/record/resource/" + doi.replace("/", "_")
        self.routes["/" + doi] = (302, b"", {"Location": landing})
        self.routes[landing] = (200, body, {"Content-Type": content_type})

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    s = Server()
    monkeypatch.setenv("RECAST_DOI_RESOLVER", s.url)
    monkeypatch.setenv("RECAST_GITHUB_RAW", s.url)
    monkeypatch.setenv("RECAST_DATA_MIRROR", "")
    yield s
    s.close()


def _targz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fetch_downloads_extracts_verifies_and_caches(server, env):
    x1, x2, ws = artifacts.get(ANA22, XML1), artifacts.get(ANA22, XML2), artifacts.get(ANA22, WS)
    server.serve_doi(x1.resource.doi, _targz({x1.member: _mirror_bytes(x1), x2.member: _mirror_bytes(x2),
                                              "BDTxml/README": b"other member"}))
    # HEPData's own JSON is pretty-printed; the pinned copy is its json.dumps form (transform json-dumps)
    original = json.dumps(json.loads(_mirror_bytes(ws)), indent=4).encode()
    assert hashlib.sha256(original).hexdigest() != ws.sha256
    server.serve_doi(ws.resource.doi, _targz({ws.member: original}))

    p1 = artifacts.fetch(x1)
    assert p1 == env / "cache" / "artifacts" / ANA22 / XML1
    assert hashlib.sha256(p1.read_bytes()).hexdigest() == x1.sha256
    assert [r[0] for r in server.requests] == ["/" + x1.resource.doi, "/record/resource/10.17182_hepdata.95664.v2_r8"]
    assert [r[1] for r in server.requests] == ["application/x-tar"] * 2  # kept across the redirect
    assert (env / "cache" / "downloads" / "10.17182_hepdata.95664.v2_r8" / x1.resource.archive).is_file()
    n = len(server.requests)
    assert artifacts.fetch(x2).read_bytes() == _mirror_bytes(x2)  # same tarball: no new request
    assert len(server.requests) == n
    assert hashlib.sha256(artifacts.fetch(ws).read_bytes()).hexdigest() == ws.sha256
    assert len(server.requests) == n + 2
    n = len(server.requests)
    for a in (x1, x2, ws):  # second round: everything from the cache, no HTTP at all
        assert artifacts.fetch(a) == artifacts.locate(a) == a.cache_path
    assert len(server.requests) == n
    assert _cache_files(env) == sorted(f"{ANA22}/{i}" for i in (XML1, XML2, WS))


def test_corrupted_member_is_refused_and_nothing_is_cached(server, env):
    a = artifacts.get(ANA22, XML1)
    data = bytearray(_mirror_bytes(a))
    data[5000] ^= 0x20
    server.serve_doi(a.resource.doi, _targz({a.member: bytes(data)}))
    with pytest.raises(ArtifactError) as err:
        artifacts.fetch(a)
    msg = str(err.value)
    assert "sha256 mismatch for " + XML1 in msg and f"expected {a.sha256}" in msg
    assert server.url + a.resource.doi in msg and "recast data add" in msg and "\n" not in msg
    assert _cache_files(env) == []
    assert not list((env / "cache" / "downloads").rglob("*.tar.gz"))  # the bad archive is not kept


def test_http_404_names_the_url(server, env):
    a = artifacts.get(ANA22, XML1)
    with pytest.raises(ArtifactError, match=rf"{server.url}{a.resource.doi}: HTTP 404") as err:
        artifacts.fetch(a)
    assert "RECAST_DATA_MIRROR" in str(err.value)
    assert _cache_files(env) == []


def test_offline_refuses_to_download(server, monkeypatch):
    a = artifacts.get(ANA22, XML1)
    server.serve_doi(a.resource.doi, _targz({a.member: _mirror_bytes(a)}))
    monkeypatch.setenv("RECAST_OFFLINE", "1")
    with pytest.raises(ArtifactError, match="offline"):
        artifacts.fetch(a)
    assert server.requests == []
    assert artifacts.fetch(a, offline=False).is_file()  # the argument wins over the environment


def test_member_missing_html_page_and_traversal(server, monkeypatch):
    a = artifacts.get(ANA22, XML1)
    server.serve_doi(a.resource.doi, _targz({"BDTxml/other.xml": b"x"}))
    with pytest.raises(ArtifactError, match=r"member BDTxml/ZeroLepton2018-SRBDT-GGd1_weight1\.xml is not in "
                                            r"the archive.*other\.xml"):
        artifacts.fetch(a)
    server.serve_doi(a.resource.doi, b"<html>landing page</html>", content_type="text/html; charset=utf-8")
    with pytest.raises(ArtifactError, match="web page"):
        artifacts.fetch(a)
    server.serve_doi(a.resource.doi, _targz({"../" + XML1: _mirror_bytes(a)}))
    with pytest.raises(ArtifactError, match="refusing member '../ZeroLepton"):
        artifacts.fetch(a)
    assert not (Path(os.environ["RECAST_CACHE_DIR"]) / XML1).exists()


def test_unknown_member_path_matches_by_basename_then_alternative(server):
    """2019-04: HEPData names the nets SUSY-2019-04_<N>jets.onnx in an unknown folder; a copy that
    differs from the pinned bytes is refused and the GitHub alternative is tried."""
    a = artifacts.get(ANA04, ONNX4)
    assert a.member is None and a.member_basename == "SUSY-2019-04_4jets.onnx"
    good = _mirror_bytes(a)
    server.serve_doi(a.resource.doi, _targz({"SUSY-2019-04-ONNX/SUSY-2019-04_4jets.onnx": good}),
                     content_type="application/gzip")
    assert artifacts.fetch(a).read_bytes() == good
    a.cache_path.unlink()
    archive = a.cache_path.parents[2] / "downloads" / "10.17182_hepdata.104860.v1_r3" / a.resource.archive
    assert archive.is_file()  # kept for the other nets of the same tarball
    archive.unlink()
    server.serve_doi(a.resource.doi, _targz({"SUSY-2019-04-ONNX/SUSY-2019-04_4jets.onnx": good[:-1] + b"\0"}))
    alt, member = a.alternatives[0]
    server.routes[f"/{alt.repo}/{alt.commit}/{member}"] = (200, good, {})
    assert artifacts.fetch(a).read_bytes() == good
    assert server.requests[-1][0] == f"/{alt.repo}/{alt.commit}/{member}"
    a.cache_path.unlink()
    del server.routes[f"/{alt.repo}/{alt.commit}/{member}"]
    with pytest.raises(ArtifactError, match=r"sha256 mismatch.*; then .*HTTP 404"):
        artifacts.fetch(a)


def test_zip_archive(server):
    a = artifacts.get(ANA22, XML1)
    res = dataclasses.replace(a.resource, doi="10.17182/hepdata.1.v1/r1", archive="BDT.zip")
    fake = dataclasses.replace(a, resource=res)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(a.member, _mirror_bytes(a))
    server.serve_doi(res.doi, buf.getvalue(), content_type="application/zip")
    assert artifacts.fetch(fake).read_bytes() == _mirror_bytes(a)
    assert server.requests[0][1] == "application/zip"


# -- add: user-provided copies -------------------------------------------------------------------


def test_add_matches_git_blob_for_the_2018_30_onnx(tmp_path, monkeypatch):
    real = artifacts.get(ANA30, "ANA-SUSY-2018-30_model.onnx")
    blob = b"\x08\x07stand-in for the ATLAS network, which is not in the mirror\x00" * 20
    fake = dataclasses.replace(real, git_blob=artifacts.git_blob_of(blob))
    registry = artifacts.registry
    monkeypatch.setattr(artifacts, "registry",
                        lambda ana: [fake] if artifacts.canonical_analysis(ana) == ANA30 else registry(ana))
    assert artifacts.locate(fake) is None
    given = tmp_path / "downloaded-somewhere.onnx"
    given.write_bytes(blob)
    assert artifacts.add(given) == fake
    assert fake.cache_path.read_bytes() == blob
    assert artifacts.locate(fake) == fake.cache_path  # checked by git blob (sha256 unknown)
    fake.cache_path.write_bytes(blob + b"!")
    with pytest.raises(ArtifactError, match="git blob mismatch"):
        artifacts.locate(fake)


def test_add_refuses_unknown_files_and_accepts_hepdata_json(tmp_path):
    other = tmp_path / "mystery.onnx"
    other.write_bytes(b"not an ATLAS file")
    sha = hashlib.sha256(b"not an ATLAS file").hexdigest()
    with pytest.raises(ArtifactError, match=rf"matches no registered artifact of ANA-SUSY-2018-30 \(sha256 {sha}, "
                                            rf"git blob {artifacts.git_blob_of(b'not an ATLAS file')}"):
        artifacts.add(other, ANA30)
    with pytest.raises(ArtifactError, match="matches no registered artifact"):
        artifacts.add(other)
    ws = artifacts.get(ANA22, WS)
    original = tmp_path / "Likelihoods" / WS
    original.parent.mkdir()
    original.write_text(json.dumps(json.loads(_mirror_bytes(ws)), indent=2))
    assert artifacts.add(original) == ws
    assert hashlib.sha256(ws.cache_path.read_bytes()).hexdigest() == ws.sha256


# -- the command line ----------------------------------------------------------------------------


def test_cli_data_list_path_verify(capsys, env, monkeypatch):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for ana in (ANA22, ANA30, ANA04):
        for a in artifacts.registry(ana):
            assert a.id in out
    onnx_row = next(line for line in out.splitlines() if "ANA-SUSY-2018-30_model.onnx" in line)
    assert "missing" in onnx_row
    assert "49 mirror" in out and "1 missing" in out

    assert main(["data", "path", ANA22, XML1]) == 0
    assert capsys.readouterr().out.strip() == str(MIRROR / ANA22 / XML1)

    monkeypatch.setenv("RECAST_OFFLINE", "1")
    assert main(["data", "path", ANA30, "ANA-SUSY-2018-30_model.onnx"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recast: error: ANA-SUSY-2018-30_model.onnx") and "offline" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["data", "path", ANA30, "model.onnx"]) == 2
    assert "did you mean ANA-SUSY-2018-30_model.onnx" in capsys.readouterr().err

    assert main(["data", "verify", ANA04]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == 11
    # a corrupted cache copy is reported and makes verify fail
    a = artifacts.get(ANA04, "golden_outputs.json")
    a.cache_path.write_bytes(b"{}")
    assert main(["data", "verify", ANA04]) == 2
    captured = capsys.readouterr()
    assert "mismatch" in captured.out and "size mismatch for golden_outputs.json" in captured.err
    assert main(["data", "list", "NOPE"]) == 2
    assert "NOPE: no artifact registry" in capsys.readouterr().err


def test_cli_data_add_and_fetch(capsys, tmp_path, monkeypatch):
    a = artifacts.get(ANA04, "param_card.Gtt.slha")
    copy = tmp_path / "card.slha"
    copy.write_bytes(_mirror_bytes(a))
    monkeypatch.setenv("RECAST_DATA_MIRROR", "")
    assert main(["data", "add", str(copy), "--analysis", "ATLAS-SUSY-2019-04"]) == 0
    assert "ANA-SUSY-2019-04 param_card.Gtt.slha" in capsys.readouterr().out
    monkeypatch.setenv("RECAST_OFFLINE", "1")
    assert main(["data", "fetch", ANA04, "-q"]) == 2
    captured = capsys.readouterr()
    assert "ok  ANA-SUSY-2019-04  param_card.Gtt.slha  cache" in captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("recast: error:")]
    assert len(errors) == 10 and all("offline" in e or "no public download" in e for e in errors)
    monkeypatch.setenv("RECAST_DATA_MIRROR", str(MIRROR))
    assert main(["data", "fetch", ANA04]) == 0
