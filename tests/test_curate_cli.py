"`cde curate` end to end on a real subset, and its option validation."
import csv, json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from cde.cli import cli_curate
from cde.curate import apply_labels, write_labels
from cde.data import load_domain

from realdata import SHARED as DATA
pytestmark = pytest.mark.shared  # real blood and nuclei crop trees with their meta.csv

def test_cli_writes_a_folder_domain(tmp_path):
    out = tmp_path/"cur"
    rc = cli_curate(["--dataset", "folder", "--data-dir", str(DATA/"blood"/"dev"), "--out", str(out), "--limit", "150",
                     "--normalize", "reinhard", "--denoise", "median", "--quiet"])
    assert rc == 0
    rep = json.loads((out/"report.json").read_text())
    assert [s["step"] for s in rep["steps"]] == ["filter_blank", "filter_blur", "dedupe", "denoise", "normalize"]
    assert rep["n_before"] == 150 and rep["n_before"] - sum(s.get("removed", 0) for s in rep["steps"]) == rep["n_after"]
    assert (out/"curation.png").stat().st_size > 10_000
    back = load_domain("folder", out, progress=False)          # the output is itself a folder domain ...
    assert back.counts() == rep["after"] and back.images.shape[1:] == (64, 64, 3)
    src = load_domain("folder", DATA/"blood"/"dev", progress=False)
    # ... that keeps each crop's source field (meta.csv), so splits by source still hold
    sub = np.sort(np.random.default_rng(0).choice(len(src), 150, replace=False))   # --limit's seeded subset
    with open(out/"meta.csv", newline="") as f: rows = list(csv.DictReader(f))
    assert len(rows) == rep["n_after"]
    for r in rows: assert r["source_image"] == src.sources[sub][int(r["original_index"])]
    assert set(back.sources) <= set(src.sources)

def test_cli_applies_labels_and_keeps_pixels_with_defaults(tmp_path):
    src = load_domain("folder", DATA/"nuclei"/"dev", progress=False)
    rejected = np.zeros(len(src), bool); rejected[[0, 5]] = True
    write_labels(tmp_path/"labels.csv", src, src.labels, rejected)
    out = tmp_path/"cur"
    assert cli_curate(["--dataset", "folder", "--data-dir", str(DATA/"nuclei"/"dev"), "--channels", "1", "--out", str(out),
                       "--labels", str(tmp_path/"labels.csv"), "--limit", "100", "--no-figure", "--quiet"]) == 0
    rep = json.loads((out/"report.json").read_text())
    assert rep["annotation"]["rejected"] == 2
    back = load_domain("folder", out, channels=1, progress=False)
    kept = apply_labels(src, tmp_path/"labels.csv")
    sub = np.sort(np.random.default_rng(0).choice(len(kept), 100, replace=False))   # --limit's seeded subset
    assert np.array_equal(back.images, kept.images[sub][rep["kept_index"]])            # default curation: pixels untouched

@pytest.mark.parametrize("args,needle", [
    (["--denoise", "bm3d"], "--denoise 'bm3d'; allowed: none, nlmeans, median"),
    (["--normalize", "macenko"], "allowed: none, percentile, reinhard"),
    (["--blur-z", "0"], "--blur-z must be > 0"),
    (["--dedupe-distance", "99"], "--dedupe-distance must be an integer"),
    (["--limit", "0"], "--limit must be >= 1"),
])
def test_cli_rejects_bad_options(tmp_path, capsys, args, needle):
    rc = cli_curate(["--dataset", "folder", "--data-dir", str(DATA/"blood"/"dev"), "--out", str(tmp_path/"o"), *args])
    assert rc == 2 and needle in capsys.readouterr().err
    assert not (tmp_path/"o").exists()

def test_cli_errors_on_missing_data_and_reinhard_gray(tmp_path, capsys):
    assert cli_curate(["--dataset", "nope", "--out", str(tmp_path/"o")]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert cli_curate(["--dataset", "folder", "--data-dir", str(tmp_path/"missing"), "--out", str(tmp_path/"o")]) == 2
    assert "not found" in capsys.readouterr().err
    assert cli_curate(["--dataset", "folder", "--data-dir", str(DATA/"nuclei"/"dev"), "--channels", "1",
                       "--normalize", "reinhard", "--out", str(tmp_path/"o"), "--quiet"]) == 2
    assert "needs RGB" in capsys.readouterr().err

def test_console_script_dispatches_curate(tmp_path):
    r = subprocess.run(["cde", "curate", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--denoise" in r.stdout and "--normalize" in r.stdout
