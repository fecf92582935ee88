"Image + mask pairs through the command line on the embedded `sample` (issue #23): train, generate --with-masks, read back as a folder domain with --mask-dir, validate --task segment."
import contextlib, io, json
from pathlib import Path
import numpy as np
import pytest

from cde.cli import main
from cde.crops import read_folder, read_mask


def cli(*argv):
    "main's exit code, stdout and stderr."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


SMOKE = ["--dataset", "sample", "--profile", "smoke", "--set", "max_per_class=40", "--set", "pair_batch=4", "--no-progress"]


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    rc, out, err = cli("train", *SMOKE, "--pair-model", "conditional", "--out", d/"run")
    assert rc == 0, err
    return d/"run"


def test_generate_with_masks_writes_mirrored_pairs(pair_run, tmp_path):
    rc, out, err = cli("generate", pair_run, "--n", 6, "--seed", 3, "--with-masks", "--out", tmp_path/"gen")
    assert rc == 0, err
    imgs = sorted(p.relative_to(tmp_path/"gen"/"images") for p in (tmp_path/"gen"/"images").rglob("*.png"))
    masks = sorted(p.relative_to(tmp_path/"gen"/"masks") for p in (tmp_path/"gen"/"masks").rglob("*.png"))
    assert len(imgs) == 6 and imgs == masks
    cs, _ = read_folder(tmp_path/"gen"/"images", 1, 64, mask_root=tmp_path/"gen"/"masks")
    assert cs.masks.shape == cs.images.shape[:3] and (cs.masks > 0).any()
    assert read_mask(tmp_path/"gen"/"masks"/imgs[0]).dtype.kind in "ui"


def test_image_only_run_refuses_with_masks(tmp_path):
    rc, _, err = cli("train", "--dataset", "sample", "--profile", "smoke", "--set", "max_per_class=16", "--set", "batch_size=4",
                     "--no-progress", "--out", tmp_path/"img")
    assert rc == 0, err
    rc, _, err = cli("generate", tmp_path/"img", "--n", 2, "--with-masks", "--out", tmp_path/"g")
    assert rc == 2 and "image-only run" in err


def test_mask_dir_trains_on_a_folder_and_names_a_missing_mask(pair_run, tmp_path):
    rc, _, err = cli("generate", pair_run, "--n", 12, "--with-masks", "--out", tmp_path/"gen")
    assert rc == 0, err
    folder = ["--dataset", "folder", "--data-dir", tmp_path/"gen"/"images", "--profile", "smoke", "--set", "pair_batch=4", "--no-progress"]
    rc, _, err = cli("train", *folder, "--mask-dir", tmp_path/"gen"/"masks", "--out", tmp_path/"run2")
    assert rc == 0, err
    cfg = json.loads((tmp_path/"run2"/"config.json").read_text())
    assert cfg["pair_model"] == "conditional" and cfg["mask_dir"].endswith("masks")   # --mask-dir alone: the default pair model
    victim = next((tmp_path/"gen"/"masks").rglob("*.png")); victim.unlink()
    rc, _, err = cli("train", *folder, "--mask-dir", tmp_path/"gen"/"masks", "--out", tmp_path/"run3")
    assert rc == 2 and victim.name in err and "no mask for" in err


def test_pair_model_without_masks_is_a_clear_error(pair_run, tmp_path):
    rc, _, err = cli("generate", pair_run, "--n", 8, "--out", tmp_path/"gen")   # images only
    assert rc == 0, err
    rc, _, err = cli("train", "--dataset", "folder", "--data-dir", tmp_path/"gen", "--profile", "smoke", "--pair-model", "joint",
                     "--no-progress", "--out", tmp_path/"r")
    assert rc == 2 and "have no masks" in err and "--mask-dir" in err


def test_validate_segment_from_a_pair_run_and_from_a_folder(pair_run, tmp_path):
    rc, out, err = cli("validate", "--task", "segment", "--synthetic", pair_run, "--profile", "smoke", "--quiet", "--out", tmp_path/"v")
    assert rc == 0, err
    res = json.loads((tmp_path/"v"/"results.json").read_text())
    assert [s["arm"] for s in res["summary"]] == ["trtr", "few_real", "tstr", "mixed", "few_real_synthetic"]
    assert {c["arm"] for c in res["claims"]} == {"mixed", "few_real_synthetic"}
    assert "TSTR" in (tmp_path/"v"/"table_seg.md").read_text() and res["provenance"]["git"]["commit"]
    assert 0 <= res["mask_fit"]["value"] <= 1 and (tmp_path/"v"/"figure5_pairs.png").stat().st_size > 0
    # the few-real-masks arm's own generator (--few-synthetic auto): the arm's fields' masks, the other fields' images with predicted masks
    from cde.data import load_domain, standard_split
    from cde.segment import FEW_FRACTION, few_fields
    few = json.loads((tmp_path/"v"/"few_pairs"/"data.json").read_text())
    tr = standard_split(load_domain("sample", progress=False), 0)["train"]
    assert few["sources"]["train"] == [str(f) for f in few_fields(tr.sources, FEW_FRACTION)]
    assert sorted(few["sources"]["train"] + few["sources"]["unlabelled"]) == sorted(map(str, set(tr.sources)))
    assert few["pseudo_masks"]["n"] == few["n"]["unlabelled"] > 0 and "pseudo-labels" in res["few_synthetic"]
    assert json.loads((tmp_path/"v"/"few_pairs"/"config.json").read_text())["pair_pseudo_masks"] is True
    rc, _, err = cli("generate", pair_run, "--n", 8, "--with-masks", "--out", tmp_path/"gen")
    rc, _, err = cli("validate", "--task", "segment", "--synthetic", tmp_path/"gen", "--dataset", "sample", "--profile", "smoke",
                     "--quiet", "--out", tmp_path/"v2")
    assert rc == 0, err
    assert json.loads((tmp_path/"v2"/"config.json").read_text())["n_synthetic"] == 8


def test_validate_segment_errors_before_work(tmp_path):
    rc, _, err = cli("validate", "--task", "segment", "--dataset", "sample", "--test-dir", tmp_path, "--out", tmp_path/"v")
    assert rc == 2 and "--test-mask-dir" in err
    rc, _, err = cli("validate", "--task", "segment", "--out", tmp_path/"v")
    assert rc == 2 and "--dataset" in err
    assert not (tmp_path/"v").exists()


def test_export_writes_pairs_that_datasets_loads_together(pair_run, tmp_path):
    from datasets import load_dataset
    rc, _, err = cli("export", pair_run, "--n", 4, "--out", tmp_path/"e")
    assert rc == 0, err
    ds = load_dataset("imagefolder", data_dir=str(tmp_path/"e"), split="train")
    assert len(ds) == 4 and {"image", "mask"} <= set(ds.features)
    assert np.asarray(ds[0]["mask"]).shape == np.asarray(ds[0]["image"]).shape[:2]
    card = (tmp_path/"e"/"README.md").read_text()
    assert "## Masks" in card and "elastic deformation" in card and "image-segmentation" in card


def test_few_synthetic_is_trained_on_the_few_arms_fields(pair_run, tmp_path):
    from cde.segment import few_fields
    test_fields = few_fields(np.array(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]), 0.2, seed=0)
    assert len(test_fields) == 2 and test_fields == sorted(test_fields)
    rc, _, err = cli("train", "--dataset", "sample", "--profile", "smoke", "--set", "field_fraction=0.1", "--set", "pair_batch=4",
                     "--pair-model", "conditional", "--no-progress", "--out", tmp_path/"few")
    assert rc == 0, err
    data = json.loads((tmp_path/"few"/"data.json").read_text())
    from cde.data import load_domain, standard_split
    tr = standard_split(load_domain("sample", progress=False), 0)["train"]
    assert data["sources"]["train"] == [str(f) for f in few_fields(tr.sources, 0.1)]
    seg = ["validate", "--task", "segment", "--synthetic", pair_run, "--few-synthetic", tmp_path/"few", "--profile", "smoke", "--quiet"]
    rc, _, err = cli(*seg, "--few-fraction", "0.2", "--out", tmp_path/"bad")
    assert rc == 2 and "field_fraction=0.2" in err and not (tmp_path/"bad").exists()
    rc, _, err = cli(*seg, "--few-fraction", "0.1", "--out", tmp_path/"v")
    assert rc == 0, err
    res = json.loads((tmp_path/"v"/"results.json").read_text())
    assert res["few_synthetic"].startswith("a generator trained on the few fields")


def test_few_fraction_default_and_the_data_card_of_pseudo_masks():
    from cde.cli import validate_parser
    from cde.export import _mask_note
    from cde.segment import FEW_FRACTION
    a = validate_parser().parse_args(["--task", "segment", "--dataset", "sample", "--out", "x"])
    assert a.few_fraction == FEW_FRACTION and a.few_synthetic == "auto"
    cfg = {"pair_model": "conditional", "pair_elastic": 4.0, "pair_elastic_sigma": 8.0}
    assert "predicted" not in _mask_note(cfg)
    assert "masks predicted by a U-Net" in _mask_note({**cfg, "pair_pseudo_masks": True, "field_fraction": 0.02})
