"`cde data` and `cde download`: listing, summaries, the missing-data message, and offline download failure."
import json, os, re, subprocess, sys, time
from pathlib import Path
import pytest
from cde.cli import cli_data, cli_download
from cde.data import load_domain
from cde.download import download_domain, DownloadError

from realdata import SHARED, DSB2018_FIXTURE

def cde(*args, cache):
    env = {**os.environ, "CDE_CACHE": str(cache)}
    return subprocess.run(["cde", *args], capture_output=True, text=True, env=env, timeout=300)

def test_list(tmp_path):
    r = cde("data", "--list", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    names = [l.split()[0] for l in r.stdout.splitlines()]
    assert set(names) == {"nuclei", "blood", "colon", "folder", "sample", "ihc"}
    assert "Data Science Bowl" in r.stdout and "EMBEDDED" in r.stdout

def test_sample_summary_without_data(tmp_path):
    r = cde("data", "--dataset", "sample", "--summary", "--quiet", cache=tmp_path/"c")
    assert r.returncode == 0, r.stderr
    assert "DSB2018" in r.stdout and "crops        1400" in r.stdout and "uint8 64x64x1" in r.stdout and "(decoded now)" in r.stdout
    r2 = cde("data", "--dataset", "sample", "--json", "--quiet", cache=tmp_path/"c")
    s = json.loads(r2.stdout)
    assert s["from_cache"] is True and s["shape"] == [64, 64, 1] and sum(s["counts"].values()) == s["crops"] >= 100

@pytest.mark.shared
def test_folder_nuclei_summary_matches_readme(tmp_path):
    r = cde("data", "--dataset", "folder", "--data-dir", str(SHARED/"nuclei"/"dev"), "--summary", "--quiet", cache=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"per class\s+nucleus 6000\b", r.stdout), r.stdout
    assert re.search(r"source images 496\b", r.stdout) and "uint8 64x64x1 (1 channel)" in r.stdout
    assert "cache file" in r.stdout

def test_summary_reports_skips(tmp_path, capsys, monkeypatch):
    from PIL import Image
    monkeypatch.setenv("CDE_CACHE", str(tmp_path/"c"))
    (tmp_path/"d"/"x").mkdir(parents=True)
    for i, a in enumerate(load_domain("ihc", channels=3, progress=False).images[:3]): Image.fromarray(a).save(tmp_path/"d"/"x"/f"{i}.png")
    (tmp_path/"d"/"x"/"broken.png").write_bytes(b"nope")
    with pytest.warns(UserWarning): assert cli_data(["--dataset", "folder", "--data-dir", str(tmp_path/"d"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "skipped      1 file(s)" in out and "broken.png" in out and "x 3" in out

def test_missing_dir_names_both_ways_out(tmp_path):
    r = cde("data", "--dataset", "nuclei", "--data-dir", str(tmp_path/"nope"), "--quiet", cache=tmp_path)
    assert r.returncode == 1
    assert "stage1_train/<id>/images/<id>.png" in r.stderr and "--data-dir" in r.stderr and "cde download nuclei" in r.stderr
    assert "Traceback" not in r.stderr

def test_bad_options(tmp_path, capsys):
    for argv, msg in ((["--dataset", "nope"], "allowed: folder"), (["--dataset", "sample", "--size", "3"], "--size"),
                      (["--dataset", "sample", "--channels", "2"], "--channels"), ([], "--list or --dataset")):
        with pytest.raises(SystemExit) as e: cli_data(argv)
        assert e.value.code == 2 and msg in capsys.readouterr().err

def test_download_offline_fails_fast_with_layout(tmp_path):
    "A mirror that cannot be reached (closed local port) stands in for no network; no real download is attempted."
    t = time.time()
    r = cde("download", "colon", "--out", str(tmp_path/"colon"), "--timeout", "2", "--quiet",
            "--url-base", "http://127.0.0.1:9", cache=tmp_path)
    assert time.time() - t < 60
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cannot download http://127.0.0.1:9/BBBC018/BBBC018_v1_images.zip" in r.stderr
    assert "BBBC018_v1_images/<field>-{DNA,actin,pH3}.DIB" in r.stderr and "--data-dir" in r.stderr
    assert "Traceback" not in r.stderr
    assert not list((tmp_path/"colon").glob("*.part"))

def test_download_nuclei_offline_message(tmp_path):
    with pytest.raises(DownloadError, match=r"stage1_train/<id>/images.*\n.*--data-dir"):
        download_domain("nuclei", tmp_path, timeout=2, url_base="http://127.0.0.1:9", progress=False)

def test_download_blood_needs_kagglehub(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "kagglehub", None)   # as if not installed
    assert cli_download(["blood", "--out", str(tmp_path/"b")]) == 1
    err = capsys.readouterr().err
    assert "pip install kagglehub" in err and "C-NMC_Leukemia/training_data" in err

def test_download_nothing_for_sample_and_folder(capsys):
    assert cli_download(["sample"]) == 2 and "embedded" in capsys.readouterr().err
    assert cli_download(["folder"]) == 2 and "your own data" in capsys.readouterr().err
    with pytest.raises(SystemExit): cli_download(["nope"])

@pytest.fixture
def local_mirror(tmp_path):
    "A local HTTP server whose BBBC038/stage1_train.zip holds the real raw DSB2018 fields (no top folder)."
    import functools, http.server, threading, zipfile
    site = tmp_path/"site"; (site/"BBBC038").mkdir(parents=True)
    src = DSB2018_FIXTURE/"stage1_train"
    with zipfile.ZipFile(site/"BBBC038"/"stage1_train.zip", "w") as z:
        for p in sorted(src.rglob("*.png")): z.write(p, p.relative_to(src).as_posix())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", site
    srv.shutdown()

def test_download_from_mirror_then_load(tmp_path, local_mirror, monkeypatch, capsys):
    from cde.config import sha256_file
    from cde.download import download_file
    base, site = local_mirror
    monkeypatch.setenv("CDE_CACHE", str(tmp_path/"cache"))
    assert cli_download(["nuclei", "--url-base", base, "--quiet", "--timeout", "5"]) == 0   # into the default data dir
    out = capsys.readouterr().out
    assert sha256_file(site/"BBBC038"/"stage1_train.zip") in out
    cs = load_domain("nuclei", progress=False)   # no data_dir: found where `cde download` put it
    direct = load_domain("nuclei", DSB2018_FIXTURE, progress=False)
    assert len(cs) == len(direct) and cs.checksum() == direct.checksum()
    assert cli_download(["nuclei", "--url-base", base, "--quiet"]) == 0 and "already downloaded" in capsys.readouterr().out
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_file(f"{base}/BBBC038/stage1_train.zip", tmp_path/"x.zip", sha256="0" * 64, progress=False)
    assert not (tmp_path/"x.zip").exists() and not (tmp_path/"x.zip.part").exists()


def test_download_interrupted_leaves_nothing(tmp_path):
    "A server that closes the connection half-way through: a DownloadError that says so, and no partial file left behind."
    import http.server, threading
    from cde.download import download_file
    class Cut(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "100000"); self.end_headers()
            self.wfile.write(b"x" * 30000); self.wfile.flush()
            self.close_connection = True  # 30 kB of 100 kB, then the connection ends
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cut)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DownloadError, match=r"cannot download .*: interrupted after \d+ of 100000 bytes; run the command again"):
            download_file(f"http://127.0.0.1:{srv.server_address[1]}/a.zip", tmp_path/"a.zip", timeout=5, progress=False)
    finally: srv.shutdown()
    assert not (tmp_path/"a.zip").exists() and not (tmp_path/"a.zip.part").exists()


def test_reproduce_download_fetches_only_missing_domains(tmp_path, local_mirror, capsys):
    "`cde reproduce --download`: a domain missing from DATA_ROOT is fetched into DATA_ROOT/<domain> (here from the local mirror); one already there is left alone."
    from cde.figures import download_missing
    base, _ = local_mirror
    (tmp_path/"root"/"colon").mkdir(parents=True); (tmp_path/"root"/"colon"/"mine.txt").write_text("local data")
    got = download_missing(tmp_path/"root", ["nuclei", "colon"], url_base=base, timeout=5, progress=False)
    assert list(got) == ["nuclei"] and (tmp_path/"root"/"nuclei"/"DOWNLOAD.json").exists()
    assert "colon: " in capsys.readouterr().out and sorted(p.name for p in (tmp_path/"root"/"colon").iterdir()) == ["mine.txt"]
    cs = load_domain("nuclei", tmp_path/"root"/"nuclei", progress=False)
    assert cs.checksum() == load_domain("nuclei", DSB2018_FIXTURE, progress=False).checksum()
