"cde.curate on awkward inputs: empty results, tiny classes, one crop, settings round-trip, reproducibility."
import json, warnings
from pathlib import Path
import numpy as np
import pytest
from cde.curate import curate, resolve_curation, augment, apply_labels, write_labels, DEFAULT_CURATION, PAPER_CURATION
from cde.crops import CropSet
from cde.data import load_domain

from realdata import SHARED as DATA
needs_data = pytest.mark.shared  # real BCCD / blood crops (no embedded RGB labelled set)

def blank_set(n=5, c=1):
    return CropSet(np.full((n, 32, 32, c), 17, np.uint8), np.zeros(n, int), ["a"], [f"s{i}" for i in range(n)])

def test_all_blank_gives_empty_set_with_warning_and_consistent_report():
    with pytest.warns(UserWarning, match="removed all 5 crops"):
        out, rep = curate(blank_set(5, 3), PAPER_CURATION, progress=False)
    assert len(out) == 0 and out.images.shape == (0, 32, 32, 3)
    assert rep["steps"][0]["removed"] == 5 and rep["n_after"] == 0 and rep["after"] == {"a": 0}
    json.dumps(rep)
    with pytest.warns(UserWarning):
        out, rep = curate(blank_set(4, 3), {"normalize": "reinhard"}, progress=False)
    assert len(out) == 0

@needs_data
def test_small_class_is_not_judged_by_blur_filter():
    cs = load_domain("folder", DATA/"blood_bccd"/"dev", progress=False)
    small = cs.subset(np.r_[np.where(cs.labels == 0)[0][:5], np.where(cs.labels == 1)[0][:100]])
    out, rep = curate(small, None, progress=False)
    blur = rep["steps"][1]
    assert blur["removed_per_class"][cs.classes[0]] == 0     # 5 crops: too few for a robust z-score
    assert rep["before"][cs.classes[0]] == 5

def test_single_crop_and_settings_roundtrip():
    rng = np.random.default_rng(0)
    one = CropSet(rng.integers(0, 255, (1, 32, 32, 1), dtype=np.uint8), [0], ["a"], ["s"])
    out, rep = curate(one, json.loads(json.dumps(PAPER_CURATION)), progress=False)
    assert len(out) == 1 and rep["settings"] == PAPER_CURATION
    assert resolve_curation(rep["settings"]) == rep["settings"]
    with pytest.raises(ValueError, match="dedupe_distance"):
        resolve_curation({"dedupe_distance": 1.5})
    with pytest.raises(ValueError, match="filter_blur must be true or false"):
        resolve_curation({"filter_blur": "yes"})

def test_curate_is_deterministic_and_does_not_mutate_input():
    cs = load_domain("sample", progress=False).subset(np.arange(80))
    before = cs.images.copy()
    a, ra = curate(cs, {**PAPER_CURATION, "denoise": "median"}, progress=False)
    b, rb = curate(cs, {**PAPER_CURATION, "denoise": "median"}, progress=False)
    assert np.array_equal(a.images, b.images) and ra == rb
    assert np.array_equal(cs.images, before)
    assert "curation" not in cs.meta and a.meta["curation"]["n_after"] == len(a)

@needs_data
def test_augment_balances_real_blood_and_labels_csv_rejects_bad_rows(tmp_path):
    cs = load_domain("folder", DATA/"blood"/"dev", progress=False)
    sub = cs.subset(np.r_[np.where(cs.labels == 0)[0][:50], np.where(cs.labels == 1)[0][:10]])
    bal = augment(sub, target_count=30, seed=0)
    assert bal.counts() == {"cancer": 50, "normal": 30}
    assert bal.meta["augment"]["added"] == {"cancer": 0, "normal": 20}
    with pytest.raises(ValueError, match="target_count"):
        augment(sub, target_count=-1)
    p = tmp_path/"labels.csv"
    write_labels(p, sub, sub.labels, np.zeros(len(sub), bool))
    text = p.read_text().splitlines()
    p.write_text("\n".join(text[:2] + ["999,x,cancer,0"]) + "\n")
    with pytest.raises(ValueError, match="out of range"):
        apply_labels(sub, p)
    p.write_text("\n".join(text[:2] + [text[2].replace(",cancer,", ",apoptotic,")]) + "\n")
    new = apply_labels(sub, p)                               # a new label becomes a new class
    assert new.classes == ["cancer", "normal", "apoptotic"] and new.counts()["apoptotic"] == 1
