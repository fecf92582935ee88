"Domain readers on native-layout samples (CC0 DSB2018 fixtures here; the other sources from CDE_SHARED_DATA/raw): crop counts, labels, channels, splits by source."
import csv, shutil
import xml.etree.ElementTree as ET
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from cde.crops import split_by_source, bbbc018_samples
from cde.data import standard_split
from cde.readers import read_dib
from cde.data import load_domain

from realdata import SHARED, RAW, DSB2018_FIXTURE

@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch): monkeypatch.setenv("CDE_CACHE", str(tmp_path/"cache"))

def no_shared_sources(parts: dict):
    "No source lands in two parts, and every crop is in exactly one part."
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]: assert not set(parts[a].sources) & set(parts[b].sources), (a, b)

def expected_nuclei(fd: Path) -> int:
    "Masks whose nucleus is off the field edge, at least 6 px long and 20 px² (counted with plain NumPy)."
    n = 0
    for mf in (fd/"masks").glob("*.png"):
        m = np.array(Image.open(mf)) > 0
        ys, xs = np.nonzero(m)
        n += bool(ys.min() > 0 and xs.min() > 0 and ys.max() < m.shape[0] - 1 and xs.max() < m.shape[1] - 1
                  and max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 >= 6 and m.sum() >= 20)
    return n

def test_nuclei_dsb2018():
    fields = sorted((DSB2018_FIXTURE/"stage1_train").iterdir())
    for root in (DSB2018_FIXTURE, DSB2018_FIXTURE/"stage1_train"):  # the parent or stage1_train itself
        cs = load_domain("nuclei", root, progress=False)
        assert len(cs) == sum(expected_nuclei(f) for f in fields)
        for f in fields: assert (cs.sources == f.name).sum() == expected_nuclei(f)
        assert cs.images.dtype == np.uint8 and cs.images.shape[1:] == (64, 64, 1) and cs.classes == ["nucleus"]
        rep = cs.meta["read_report"]
        assert rep["skipped"] == 0 and rep["read"] == len(cs)
        assert sum(rep["rejected"].values()) == sum(len(list((f/"masks").glob("*.png"))) for f in fields) - len(cs)
    parts = split_by_source(cs, {"a": 0.5, "b": 0.5}, seed=0)
    no_shared_sources(parts)
    assert len(parts["a"]) + len(parts["b"]) == len(cs)

def test_nuclei_size_and_channels():
    cs = load_domain("nuclei", DSB2018_FIXTURE, size=32, channels=3, progress=False)
    assert cs.images.shape[1:] == (32, 32, 3) and cs.meta["size"] == 32

@pytest.mark.shared
def test_blood_cnmc_labels_and_subject_split():
    cs = load_domain("blood", RAW/"cnmc", progress=False)
    n_all, n_hem = len(list((RAW/"cnmc"/"all").glob("*.png"))), len(list((RAW/"cnmc"/"hem").glob("*.png")))
    assert cs.counts() == {"cancer": n_all, "normal": n_hem} and cs.channels == 3
    # the label follows the folder: every hem file is normal, every all file cancer
    assert set(cs.labels[np.char.startswith(cs.sources, "subject-H")]) == {1}
    parts = split_by_source(cs, {"train": 0.7, "test": 0.3}, seed=1)
    no_shared_sources(parts)

@pytest.mark.shared
def test_blood_cnmc_kaggle_layout(tmp_path):
    "C-NMC_Leukemia/training_data/fold_*/{all,hem}/*.bmp, built from the real C-NMC cells as BMP."
    root = tmp_path/"C-NMC_Leukemia"/"training_data"
    files = sorted((RAW/"cnmc").glob("*/*.png"))[::6]
    for i, p in enumerate(files):
        q = root/f"fold_{i % 3}"/p.parent.name/(p.stem + ".bmp"); q.parent.mkdir(parents=True, exist_ok=True)
        Image.open(p).save(q)
    cs = load_domain("blood", tmp_path, progress=False)
    assert len(cs) == len(files) and cs.meta["reader"] == "read_cnmc"
    assert cs.counts()["cancer"] == sum(p.parent.name == "all" for p in files)

@pytest.mark.shared
def test_blood_taleqani():
    cs = load_domain("blood", RAW/"all_taleqani", progress=False)
    assert cs.meta["reader"] == "read_taleqani" and cs.channels == 3
    lab = dict(zip(cs.sources, cs.labels))
    assert all((v == 1) == s.startswith("Benign/") for s, v in lab.items())  # Benign → normal, others → cancer
    # the shared dev crops of these fields were cut by the documented detector: each is one of ours
    rows = [r for r in csv.DictReader(open(SHARED/"blood"/"meta.csv")) if (RAW/"all_taleqani"/r["source_image"]).exists()]
    assert len(rows) == 28
    for r in rows:
        ours = cs.images[cs.sources == "/".join(Path(r["source_image"]).parts[-2:])]
        assert (np.asarray(Image.open(SHARED/"blood"/r["file"]))[None] == ours).all((1, 2, 3)).any(), r["file"]
    assert len(cs) >= len(rows)  # the shared set is a subsample of the candidates
    no_shared_sources(standard_split(cs, seed=0))

@pytest.mark.shared
def test_blood_bccd_boxes():
    cs = load_domain("blood", RAW/"bccd", progress=False)
    names = [o.findtext("name").lower() for x in (RAW/"bccd"/"BCCD"/"Annotations").glob("*.xml")
             for o in ET.parse(x).iter("object")]
    assert cs.classes == ["platelets", "rbc", "wbc"]
    assert cs.counts() == {c: names.count(c) for c in cs.classes}
    assert set(cs.sources) == {x.stem for x in (RAW/"bccd"/"BCCD"/"Annotations").glob("*.xml")}
    no_shared_sources(split_by_source(cs, {"a": 0.6, "b": 0.4}, seed=0))

def colon_candidates(fields):
    "Crops per field listed in shared/data/colon/meta.csv (every candidate of a dev field is listed)."
    rows = list(csv.DictReader(open(SHARED/"colon"/"meta.csv")))
    return sum(r["source_image"].rsplit("/", 1)[-1] in fields for r in rows)

@pytest.mark.shared
def test_colon_bbbc018():
    cs = load_domain("colon", RAW/"bbbc018", progress=False)
    assert len(cs) == colon_candidates({"00733", "00734"}) == 165
    assert cs.images.shape[1:] == (64, 64, 3) and cs.classes == ["cell"]
    assert set(cs.sources) == {"sample-00733"}  # both fields belong to one sample
    assert cs.meta["fields_per_sample"] == {"sample-00733": ["00733", "00734"]}
    # RGB = (pH3, actin, DNA): the DNA stain (blue) is the brightest inside the nucleus at the crop centre
    c = cs.images[:, 28:36, 28:36].reshape(len(cs), -1, 3).mean(1)
    assert (c[:, 2] > c[:, 0]).mean() > 0.9

def _link_field(src_dir: Path, dst_dir: Path, field: str, new: str, kinds):
    for k in kinds:
        for p in src_dir.glob(f"{field}-{k}"):
            (dst_dir/p.name.replace(field, new)).symlink_to(p)

@pytest.mark.shared
def test_colon_samples_never_split(tmp_path):
    "Four real fields under ids of two samples: a split keeps each sample (all its fields) on one side."
    src = RAW/"bbbc018"/"data"
    img, out = tmp_path/"BBBC018_v1_images", tmp_path/"BBBC018_v1_outlines"
    img.mkdir(); out.mkdir()
    ids = {"00733": "00733", "00734": "00734", "00737": "00733", "00739": "00734"}  # 00737..00740 is a second sample
    for new, old in ids.items():
        _link_field(src/"BBBC018_v1_images", img, old, new, ["*.DIB"])
        _link_field(src/"BBBC018_v1_outlines", out, old, new, ["*.png"])
    cs = load_domain("colon", tmp_path, progress=False)
    assert sorted(set(cs.sources)) == ["sample-00733", "sample-00737"] and len(cs) == 2 * 165
    for seed in range(5):
        parts = split_by_source(cs, {"train": 0.5, "test": 0.5}, seed=seed)
        no_shared_sources(parts)
        assert {len(set(p.sources)) for p in parts.values()} == {1}

@pytest.mark.shared
def test_colon_tiff_fields(tmp_path):
    "BBBC008-style 16-bit and 8-bit TIFFs made from the real BBBC018 stains: nuclei by Otsu."
    src = RAW/"bbbc018"/"data"/"BBBC018_v1_images"
    for f in ("00733", "00734"):
        for stain, tok in (("DNA", "d0"), ("actin", "d1")):
            a = read_dib(src/f"{f}-{stain}.DIB")
            Image.fromarray(a.astype(np.uint16)).save(tmp_path/f"AS_{f}_A01f00{tok}.tif")
            Image.fromarray((a >> 4).astype(np.uint8)).save(tmp_path/f"eight_{f}_{stain}.tiff")
    cs = load_domain("colon", tmp_path, progress=False)
    assert cs.meta["reader"] == "read_tiff_fields" and cs.channels == 3
    assert len(set(cs.sources)) == 4 and 40 < len(cs) / 4 < 300
    assert cs.images[..., 0].max() == 0  # no pH3 stain given: red stays empty

def test_bbbc018_sample_grouping():
    ids = [f"{i:05d}" for i in (733, 734, 735, 736, 3997, 3998, 3999, 4000, 10777, 10778, 10780)]
    s = bbbc018_samples(ids)
    assert len(set(s.values())) == 3 and s["10780"] == s["10777"]

def test_sample_embedded():
    cs = load_domain("sample", progress=False)
    assert len(cs) == 1400 and cs.images.shape[1:] == (64, 64, 1) and cs.meta["n_sources"] == 496
    assert "DSB2018" in cs.meta["what"] and cs.meta["data_dir"] is None and cs.meta["licence"].startswith("CC0")
    no_shared_sources(standard_split(cs, seed=3))
    ihc = load_domain("ihc", progress=False)
    assert 100 <= len(ihc) <= 250 and "immunohistochemistry" in ihc.meta["what"]

@pytest.mark.shared
def test_nuclei_class_tree_and_cache():
    "The nuclei domain also reads the shared crops; the second load comes from the cache and is identical."
    a = load_domain("nuclei", SHARED/"nuclei"/"dev", progress=False)
    assert a.counts() == {"nucleus": 6000} and a.images.shape[1:] == (64, 64, 1) and a.meta["n_sources"] == 496
    b = load_domain("nuclei", SHARED/"nuclei"/"dev", progress=False)
    assert (a.meta["from_cache"], b.meta["from_cache"]) == (False, True)
    assert a.checksum() == b.checksum() and (a.sources == b.sources).all() and Path(b.meta["cache_file"]).exists()
    no_shared_sources(standard_split(b, seed=0))

@pytest.mark.shared
def test_colon_class_tree_groups_fields_into_samples():
    "The shared colon crops name their BBBC018 field; the split unit becomes the sample of 4 fields."
    cs = load_domain("colon", SHARED/"colon"/"dev", progress=False)
    rows = list(csv.DictReader(open(SHARED/"colon"/"meta.csv")))
    fields = sorted({r["source_image"].rsplit("/", 1)[-1] for r in rows})
    assert cs.counts() == {"cell": len(rows)} and cs.images.shape[1:] == (64, 64, 3)
    assert cs.meta["n_sources"] == len(set(bbbc018_samples(fields).values())) == 10
    parts = standard_split(cs, seed=0)
    no_shared_sources(parts)   # a field belongs to exactly one sample, so no field is split either
    assert sum(len(set(p.sources)) for p in parts.values()) == 10

@pytest.mark.shared
def test_taleqani_kaggle_layout_reads_only_original(tmp_path):
    "Kaggle's copy has Original/ and Segmented/ with the same class folders: only Original fields are read."
    src = RAW/"all_taleqani"/"images"/"Original"
    for top in ("Original", "Segmented"):
        for c in src.iterdir():
            (tmp_path/top/c.name).mkdir(parents=True)
            for p in c.glob("*.jpg"): (tmp_path/top/c.name/p.name).symlink_to(p)
    a = load_domain("blood", tmp_path, progress=False)
    b = load_domain("blood", RAW/"all_taleqani", progress=False)
    assert a.checksum() == b.checksum() and list(a.sources) == list(b.sources)
