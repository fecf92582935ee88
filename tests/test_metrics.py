"""Acceptance tests of cde.metrics on real nuclei crops: the embedded `sample` (CC0 DSB2018 nuclei, in the package).

Inception on this CPU runs at a few images/s, so the sets are small (30 images for the FID checks, 100 / 100 /
200 for the audit) and every image is embedded once per session (a fresh session feature cache; subsets and
copies of embedded images come from it)."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageFilter



@pytest.fixture(scope="session", autouse=True)
def feature_cache(tmp_path_factory):
    "A fresh feature cache for the session (no stale features can hide a bug); subprocesses inherit it."
    d = tmp_path_factory.mktemp("cde_cache")
    old = os.environ.get("CDE_CACHE"); os.environ["CDE_CACHE"] = str(d)
    yield d
    if old is None: os.environ.pop("CDE_CACHE", None)
    else: os.environ["CDE_CACHE"] = old


@pytest.fixture(scope="session")
def parts():
    "Real nuclei crops, one per source field, in parts disjoint by field: train T, holdout H, synthetic-like S."
    from cde.data import load_domain
    cs = load_domain("sample", progress=False)
    first = pd.Series(np.arange(len(cs))).groupby(cs.sources).head(1).values       # one crop per source field
    first = np.random.default_rng(0).permutation(first)
    out, i = {}, 0
    for k, n in {"T": 100, "H": 100, "S": 190}.items():
        out[k] = cs.subset(np.sort(first[i:i + n])); i += n
    return out


def _write(images, d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(images): Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(d/f"{i:04d}.png")
    return d


def _cde(*args, env=None):
    return subprocess.run([sys.executable, "-c", "import sys; from cde.cli import main; sys.exit(main())", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def folders(parts, tmp_path_factory):
    "Two real folders of 30 nuclei crops each (disjoint source fields), the A one under a class subfolder."
    root = tmp_path_factory.mktemp("fid")
    a = _write(parts["T"].images[:30], root/"A"/"nucleus")  # root/<class>/ tree: folders are searched recursively
    b = _write(parts["H"].images[:30], root/"B")
    return root/"A", b


def test_cde_fid_matches_cleanfid(folders):
    from cleanfid import fid as cfid
    from cde.metrics import load_inception
    a, b = folders
    r = _cde("fid", str(a), str(b), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # stdout holds exactly one JSON object
    assert out["n_a"] == out["n_b"] == 30 and out["mode"] == "clean"
    net = load_inception(device="cpu")
    ref = cfid.compute_fid(str(a), str(b), mode="clean", custom_feat_extractor=net, device=torch.device("cpu"),
                           num_workers=0, verbose=False)
    assert abs(out["fid"] - ref) <= 0.01 * ref, (out["fid"], ref)
    r = _cde("fid", str(a), str(b))  # readable line
    assert r.returncode == 0 and r.stdout.startswith("FID ") and "n_a=30" in r.stdout, r.stdout


def test_fid_identical_sets_is_zero(parts):
    from cde.metrics import compute_fid
    r = compute_fid(parts["T"].images[:30], parts["T"].images[:30], progress=False)
    assert r["fid"] < 1e-3 and r["n_a"] == r["n_b"] == 30


def test_blur_is_worse_than_flip(parts):
    "A Gaussian-blurred copy of real crops is further (FID, KID) than a mirrored copy."
    from cde.metrics import compute_fid
    x = parts["T"].images[:30]
    blur = np.stack([np.asarray(Image.fromarray(a[..., 0]).filter(ImageFilter.GaussianBlur(2)))[..., None] for a in x])
    flip = np.ascontiguousarray(x[:, :, ::-1])
    fb = compute_fid(x, blur, kid=True, progress=False)
    ff = compute_fid(x, flip, kid=True, progress=False)
    assert fb["fid"] > ff["fid"] and fb["kid"]["kid"] > ff["kid"]["kid"], (fb, ff)


def test_kid_and_prdc_ranges(parts):
    from cde.metrics import inception_features, kid_from_features, compute_prdc
    ft, fh = inception_features(parts["T"].images[:30], progress=False), inception_features(parts["H"].images[:30], progress=False)
    k = kid_from_features(ft, fh)
    assert k["subset_size"] == 15 and -0.05 < k["kid"] < 0.2 and k["kid_std"] > 0, k  # subsets of half the set differ
    assert k["interval"][0] <= k["kid"] <= k["interval"][1], k
    p = compute_prdc(ft, fh, k=5)
    assert all(0 <= p[m] <= 1 for m in ("precision", "recall", "coverage")) and p["density"] >= 0, p
    assert p["n_real"] == p["n_fake"] == 30
    same = compute_prdc(ft, ft, k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0


@pytest.fixture(scope="session")
def audit_sets(parts):
    "200 synthetic-like crops: 190 real crops from unseen fields plus 10 exact copies of training crops."
    from cde.crops import CropSet
    rng = np.random.default_rng(0)
    copies = rng.choice(len(parts["T"]), 10, replace=False)
    S = np.concatenate([parts["S"].images, parts["T"].images[copies]])
    perm = rng.permutation(len(S))  # copies scattered among the others
    syn = CropSet(S[perm], np.zeros(len(S), np.int64), ["nucleus"], ["synthetic"] * len(S), "nuclei")
    is_copy = perm >= len(parts["S"].images)
    return syn, is_copy, copies[perm[is_copy] - len(parts["S"].images)]


def test_memorization_audit_flags_planted_copies(parts, audit_sets):
    from cde.metrics import memorization_audit
    syn, is_copy, copy_of = audit_sets
    au = memorization_audit(syn, parts["T"], parts["H"], progress=False)
    for space in ("feature", "pixel"):
        fl = au[space]["flagged"]
        print(f"{space}: copies flagged {fl[is_copy].sum()}/10, others flagged {fl[~is_copy].mean():.3f} "
              f"(threshold {au[space]['threshold']:.4g})")
        assert fl[is_copy].sum() >= 9, (space, fl[is_copy])
        rest = fl[~is_copy].mean()
        assert rest <= au["expected_fraction"] + 0.07, (space, rest)  # ~5 % expected for unseen real crops
    assert (au["feature"]["nn_index"][is_copy] == copy_of).all()
    assert au["n_exact_copies"] == 10 and au["n_synthetic"] == 200


def test_evaluate_cli_writes_metrics(parts, audit_sets, tmp_path, monkeypatch, capsys):
    "`cde evaluate RUN_DIR` with the run's generator and data (stand-ins here): table on stdout, metrics.json written."
    from cde import evaluate as E
    from cde.cli import cli_evaluate
    syn, _, _ = audit_sets
    monkeypatch.setattr(E, "run_generate", lambda rd, n, seed=0: syn.subset(np.arange(n)))
    monkeypatch.setattr(E, "run_load_data", lambda rd, part: {"train": parts["T"], "test": parts["H"]}[part])
    run = tmp_path/"run"; run.mkdir()
    assert cli_evaluate([str(run), "--n", "200", "--bootstrap", "20", "--no-progress", "--c2st-steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "FID (clean)" in out and "exact training copies" in out and "C2ST AUROC" in out
    m = json.loads((run/"metrics.json").read_text())
    assert m["mode"] == "clean" and m["n_synthetic"] == 200 and m["n_real"] == 100
    assert m["fid"]["interval"]["low"] <= m["fid"]["fid"] <= m["fid"]["interval"]["high"]
    # 100 held-out crops: 50 are the FID's reference, 50 the floor's stand-ins, so 50 of the 200 synthetic crops are scored
    assert (m["floor"]["n_a"], m["floor"]["n_b"]) == (m["fid"]["n_synthetic"], m["fid"]["n_real"]), (m["floor"], m["fid"])
    assert m["fid"]["n_synthetic"] + m["fid"]["n_real"] <= 100 and m["n_note"].startswith("too few real crops")
    assert m["floor"]["split"] == "by source field"
    assert (m["fid"]["interval"]["unit"], m["fid"]["interval"]["n_groups"]) == ("crop", m["fid"]["n_real"])  # one crop per field
    assert m["memorization"]["n_exact_copies"] == 10 and m["memorization"]["n_synthetic"] == 200
    assert m["memorization"]["informative"] is True and m["memorization"]["n_train"] == 100
    c = m["c2st"]  # every held-out real crop (by source field) against every synthetic one, half / half
    assert (c["n_real_train"] + c["n_real_test"], c["n_fake_train"] + c["n_fake_test"], c["steps"]) == (100, 200, 20), c
    assert 0 <= c["interval"]["low"] <= c["auroc"] <= c["interval"]["high"] <= 1 and c["interpretation"].startswith("AUROC"), c
    assert (run/"memorization.csv").read_text().count("\n") == 201 and (run/"memorization_pairs.png").stat().st_size > 0


def test_evaluate_real_run(parts, tmp_path):
    "End to end on a real (smoke-profile) run: `cde train` on 60 real crops, then `cde evaluate` on its EMA generator."
    data = _write(parts["T"].images[:60], tmp_path/"data"/"nucleus")  # crops already embedded: only samples are new
    run = tmp_path/"run"
    r = _cde("train", "--dataset", "folder", "--data-dir", str(data.parent), "--channels", "1", "--size", "64",
             "--profile", "smoke", "--out", str(run), "--no-progress")
    assert r.returncode == 0, r.stderr[-3000:]
    r = _cde("evaluate", str(run), "--n", "16", "--bootstrap", "10", "--no-progress", "--c2st-steps", "10")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "FID (clean)" in r.stdout and "of 16" in r.stdout, r.stdout  # the audit sees all 16 synthetic crops
    m = json.loads((run/"metrics.json").read_text())
    assert m["n_synthetic"] == 16 and m["fid"]["fid"] > m["floor"]["fid"]  # smoke samples are noise, far from real
    assert (m["floor"]["n_a"], m["floor"]["n_b"]) == (m["fid"]["n_synthetic"], m["fid"]["n_real"]), (m["floor"], m["fid"])
    assert m["fid"]["interval"]["unit"] in ("crop", "source image") and m["fid"]["interval"]["n_groups"] <= m["fid"]["n_real"]
    assert m["memorization"]["informative"] == (m["prdc"]["precision"] >= 0.05)
    assert ("uninformative" in r.stdout) == (not m["memorization"]["informative"]), r.stdout
    assert m["memorization"]["n_train"] >= 30 and m["memorization"]["n_exact_copies"] == 0
    c = m["c2st"]  # run, or skipped because the run's held-out part is too small for two halves (it says so)
    assert "too few" in c.get("skipped", "") or (c["steps"], c["n_fake_train"] + c["n_fake_test"]) == (10, 16), c
