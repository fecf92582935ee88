"Bad input: corrupt, truncated, 16-bit, RGBA / palette files, empty folders, lone classes, mismatched masks."
import functools, shutil, warnings
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from cde.crops import ImageReadError, read_image, read_folder, CropSet
from cde.readers import read_dib
from cde.data import load_domain, save_cropset, cache_path

from realdata import RAW, DSB2018_FIXTURE

@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch): monkeypatch.setenv("CDE_CACHE", str(tmp_path/"cache"))

@functools.lru_cache(maxsize=1)
def _ihc_rgb():
    "The embedded `ihc` crops in RGB, decoded once per session (each test has its own empty crop cache)."
    return load_domain("ihc", channels=3, progress=False, cache=False).images

def real_crops(n=4, cls="cancer"):
    "A few real 64 px RGB nucleus crops from the embedded `ihc` domain (a different set per stand-in class)."
    ims = _ihc_rgb()
    return list(ims[:n] if cls == "cancer" else ims[-n:])

def good_tree(root: Path, per_class=3):
    for c in ("cancer", "normal"):
        (root/c).mkdir(parents=True)
        for i, a in enumerate(real_crops(per_class, cls=c)): Image.fromarray(a).save(root/c/f"{i}.png")
    return root

def test_corrupt_truncated_and_fake_files_are_reported_skips(tmp_path):
    root = good_tree(tmp_path/"d")
    (root/"cancer"/"bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (root/"cancer"/"empty.png").write_bytes(b"")
    (root/"cancer"/"text.jpg").write_text("this is not an image")
    Image.fromarray(real_crops(1)[0]).resize((256, 256)).save(tmp_path/"full.jpg", quality=95)
    data = (tmp_path/"full.jpg").read_bytes()
    (root/"normal"/"truncated.jpg").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="skipped 4 unreadable"):
        cs, rep = read_folder(root, 3, 32)
    assert len(cs) == 6 and rep["read"] == 6 and rep["skipped"] == 4 and rep["files"] == 10
    joined = "\n".join(rep["skipped_files"])
    for name in ("bad.png", "empty.png", "text.jpg", "truncated.jpg"): assert name in joined
    assert all(s.startswith("cannot read image ") for s in rep["skipped_files"])
    # through load_domain and the CLI summary the same skips are reported
    ld = load_domain("folder", root, size=32, progress=False)
    assert ld.meta["read_report"]["skipped"] == 4

def test_read_image_errors_name_the_file(tmp_path):
    p = tmp_path/"x.tif"; p.write_bytes(b"II*\x00" + b"\x00" * 20)
    with pytest.raises(ImageReadError, match=r"cannot read image .*x\.tif"): read_image(p, 1)
    with pytest.raises(ImageReadError): read_image(tmp_path/"missing.png", 1)

@pytest.mark.shared
def test_16bit_tiff_png_rgba_palette_la_bilevel(tmp_path):
    dna = read_dib(RAW/"bbbc018"/"data"/"BBBC018_v1_images"/"00733-DNA.DIB")   # real 12-bit values in uint16
    Image.fromarray(dna).save(tmp_path/"a16.tif"); Image.fromarray(dna).save(tmp_path/"a16.png")
    rgb = real_crops(1)[0]
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]), "RGBA").save(tmp_path/"rgba.png")
    Image.fromarray(rgb).quantize(64).save(tmp_path/"pal.png")
    pal_t = Image.fromarray(rgb).quantize(16); pal_t.info["transparency"] = 0; pal_t.save(tmp_path/"palt.png", transparency=0)
    Image.fromarray(rgb).convert("LA").save(tmp_path/"la.png")
    Image.fromarray(rgb).convert("1").save(tmp_path/"bw.png")
    Image.fromarray(rgb).convert("CMYK").save(tmp_path/"cmyk.jpg")
    for name in ("a16.tif", "a16.png"):
        a = read_image(tmp_path/name, 1)
        assert a.dtype == np.uint8 and a.shape == (512, 512, 1) and a.min() == 0 and a.max() == 255
        # stretched linearly from the file's own min..max: the order of intensities is kept
        flat, ref = a.ravel().astype(int), dna.ravel().astype(int)
        assert np.corrcoef(flat, ref)[0, 1] > 0.999
    for name in ("rgba.png", "pal.png", "palt.png", "cmyk.jpg"):
        assert read_image(tmp_path/name, 3).shape == (64, 64, 3) and read_image(tmp_path/name, 1).shape == (64, 64, 1)
    assert np.array_equal(read_image(tmp_path/"rgba.png", 3), rgb)  # alpha dropped, colour kept
    for name in ("la.png", "bw.png"):
        assert read_image(tmp_path/name, 1).shape == (64, 64, 1) and read_image(tmp_path/name, 3).shape == (64, 64, 3)

@pytest.mark.shared
def test_folder_of_16bit_tiffs_is_grayscale(tmp_path):
    dna = read_dib(RAW/"bbbc018"/"data"/"BBBC018_v1_images"/"00733-DNA.DIB")
    (tmp_path/"d"/"cell").mkdir(parents=True)
    for i in range(3): Image.fromarray(dna[i * 100:(i * 100) + 128, :128]).save(tmp_path/"d"/"cell"/f"{i}.tif")
    with pytest.warns(UserWarning, match="own source image"):
        cs = load_domain("folder", tmp_path/"d", progress=False)
    assert cs.images.shape == (3, 64, 64, 1)   # channels inferred: 1

def test_empty_folder_and_empty_class(tmp_path):
    (tmp_path/"empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Two ways out"): load_domain("folder", tmp_path/"empty")
    with pytest.raises(ValueError, match="no class subfolders"): read_folder(tmp_path/"empty", 3, 64)
    (tmp_path/"e2"/"a").mkdir(parents=True); (tmp_path/"e2"/"a"/"notes.txt").write_text("x")
    with pytest.raises(ValueError, match="holds no images"): read_folder(tmp_path/"e2", 3, 64)
    with pytest.raises(ValueError, match="no reader recognises"): load_domain("folder", tmp_path/"e2")
    # a class whose only files are unreadable is an error, not a silent drop of the class
    root = good_tree(tmp_path/"e3"); (root/"lonely").mkdir(); (root/"lonely"/"x.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="lonely"), warnings.catch_warnings():
        warnings.simplefilter("ignore"); read_folder(root, 3, 64)

def test_class_with_one_image_is_warned(tmp_path):
    root = good_tree(tmp_path/"d"); shutil.rmtree(root/"normal"); (root/"normal").mkdir()
    Image.fromarray(real_crops(1, cls="normal")[0]).save(root/"normal"/"only.png")
    with pytest.warns(UserWarning, match="'normal' has a single image"):
        cs = load_domain("folder", root, progress=False)
    assert cs.counts() == {"cancer": 3, "normal": 1}
    assert any("single image" in w for w in cs.meta["read_report"]["warnings"])

def dsb_copy(tmp_path, n_fields=1):
    src = sorted((DSB2018_FIXTURE/"stage1_train").iterdir())[:n_fields]
    dst = tmp_path/"stage1_train"
    for f in src: shutil.copytree(f, dst/f.name)
    return dst, [dst/f.name for f in src]

def test_dsb_mismatched_and_corrupt_masks(tmp_path):
    dst, (fd,) = dsb_copy(tmp_path)
    good = load_domain("nuclei", tmp_path, progress=False, cache=False)
    masks = sorted((fd/"masks").glob("*.png"))
    m0 = np.asarray(Image.open(masks[0]))
    Image.fromarray(np.pad(m0, ((0, 5), (0, 0)))).save(fd/"masks"/"zz_wrong_size.png")   # a mask of another size
    (fd/"masks"/"zz_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n....")
    cs = load_domain("nuclei", tmp_path, progress=False, cache=False)
    rep = cs.meta["read_report"]
    assert len(cs) == len(good) and rep["skipped"] == 2
    assert any("zz_wrong_size.png" in s and "but its image is" in s for s in rep["skipped_files"])
    assert any("zz_corrupt.png" in s for s in rep["skipped_files"])

def test_dsb_corrupt_image_and_missing_masks(tmp_path):
    dst, (f1, f2, f3) = dsb_copy(tmp_path, 3)
    (f1/"images"/f"{f1.name}.png").write_bytes(b"broken")
    shutil.rmtree(f2/"masks"); (f2/"masks").mkdir()
    cs = load_domain("nuclei", tmp_path, progress=False, cache=False)
    rep = cs.meta["read_report"]
    assert set(cs.sources) == {f3.name} and rep["skipped"] == 2 and rep["fields"] == 1
    with pytest.raises(ValueError, match="no nucleus crops"):
        (f3/"images"/f"{f3.name}.png").write_bytes(b"broken too")
        load_domain("nuclei", tmp_path, progress=False, cache=False)

@pytest.mark.shared
def test_bbbc018_truncated_dib_and_missing_outlines(tmp_path):
    src = RAW/"bbbc018"/"data"
    shutil.copytree(src, tmp_path/"data")
    img = tmp_path/"data"/"BBBC018_v1_images"
    (img/"00734-actin.DIB").write_bytes((src/"BBBC018_v1_images"/"00734-actin.DIB").read_bytes()[:1000])
    with pytest.raises(ImageReadError, match="Cellomics DIB"): read_dib(img/"00734-actin.DIB")
    for k in ("DNA", "actin", "pH3"): shutil.copy(src/"BBBC018_v1_images"/f"00733-{k}.DIB", img/f"00735-{k}.DIB")
    shutil.copy(src/"BBBC018_v1_images"/"00733-DNA.DIB", img/"00736-DNA.DIB")   # a field with one stain only
    cs = load_domain("colon", tmp_path, progress=False)
    rep = cs.meta["read_report"]
    assert len(cs) == 77 and rep["skipped"] == 3   # only 00733 is usable
    j = "\n".join(rep["skipped_files"])
    assert "00734-actin.DIB" in j and "00735: no hand-drawn outlines" in j and "00736: stain(s)" in j

@pytest.mark.shared
def test_bccd_bad_xml_and_missing_image(tmp_path):
    shutil.copytree(RAW/"bccd"/"BCCD", tmp_path/"BCCD")
    good = load_domain("blood", tmp_path, progress=False, cache=False)
    (tmp_path/"BCCD"/"Annotations"/"BloodImage_00000.xml").write_text("<annotation><object>")
    (tmp_path/"BCCD"/"JPEGImages"/"BloodImage_00001.jpg").unlink()
    cs = load_domain("blood", tmp_path, progress=False, cache=False)
    rep = cs.meta["read_report"]
    assert rep["skipped"] == 2 and set(cs.sources) == {"BloodImage_00002"} and len(cs) < len(good)

@pytest.mark.shared
def test_taleqani_field_without_leukocytes_is_counted(tmp_path):
    shutil.copytree(RAW/"all_taleqani"/"images"/"Original", tmp_path/"Original")
    Image.fromarray(np.full((224, 224, 3), 230, np.uint8)).save(tmp_path/"Original"/"Pre"/"blank.jpg")
    (tmp_path/"Original"/"Pro"/"cut.jpg").write_bytes((RAW/"all_taleqani"/"images"/"Original"/"Pro"/"WBC-Malignant-Pro-001.jpg").read_bytes()[:500])
    cs = load_domain("blood", tmp_path, progress=False)
    rep = cs.meta["read_report"]
    assert rep["rejected"]["fields_without_detected_leukocyte"] >= 1 and rep["skipped"] == 1 and "cut.jpg" in rep["skipped_files"][0]

def test_corrupt_cache_is_rebuilt_and_changed_data_rekeys(tmp_path):
    root = good_tree(tmp_path/"d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = load_domain("folder", root, size=32, progress=False)
        Path(a.meta["cache_file"]).write_bytes(b"not an npz")
        with pytest.warns(UserWarning, match="unreadable cache file"):
            b = load_domain("folder", root, size=32, progress=False)
        assert b.meta["from_cache"] is False and b.checksum() == a.checksum()
        assert load_domain("folder", root, size=32, progress=False).meta["from_cache"] is True
        Image.fromarray(real_crops(4)[3]).save(root/"cancer"/"new.png")   # new data → new key, decoded again
        c = load_domain("folder", root, size=32, progress=False)
    assert c.meta["from_cache"] is False and len(c) == len(a) + 1 and c.meta["cache_file"] != a.meta["cache_file"]

def test_bad_arguments():
    with pytest.raises(ValueError, match="channels must be 1 or 3"): load_domain("sample", channels=2)
    with pytest.raises(ValueError, match="at least 8"): load_domain("sample", size=4)
    with pytest.raises(ValueError, match="unknown dataset"): load_domain("bloodd", "/tmp")

def test_meta_csv_sources_licence_and_bad_columns(tmp_path):
    root = good_tree(tmp_path/"d")
    rows = ["file,source_image,licence"] + [f"d/{c}/{i}.png,field-{c}-{i // 2},CC0-1.0" for c in ("cancer", "normal") for i in range(3)]
    (tmp_path/"meta.csv").write_text("\n".join(rows) + "\n")
    cs = load_domain("folder", root, progress=False)
    assert sorted(set(cs.sources)) == ["field-cancer-0", "field-cancer-1", "field-normal-0", "field-normal-1"]
    assert cs.meta["licence"] == "CC0-1.0" and cs.meta["read_report"]["meta_csv"].endswith("meta.csv")
    (tmp_path/"meta.csv").write_text("name,whatever\na,b\n")
    with pytest.warns(UserWarning, match="lacks the columns"):
        cs = load_domain("folder", root, progress=False)
    assert len(set(cs.sources)) == 6 and cs.meta["licence"] == "not declared (your own data)"
