"Classifier validation (cde.classify, with cde.networks): architectures, metrics, clean test splits, protocols and the `cde validate` CLI."
import csv, json, shutil, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn import metrics as skm

from cde import classify as C
from cde import networks as N
from cde.cli import cli_validate
from cde.config import save_json
from cde.crops import read_folder
from cde.data import standard_split

from realdata import SHARED, need_shared
BLOOD = SHARED/"blood"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    "Tiny batches run faster on one thread (and the CI machine is shared); restored afterwards."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------- architectures

@pytest.mark.parametrize("channels,sizes", [(1, (32, 64)), (3, (64, 32))], ids=["1ch", "3ch"])
@pytest.mark.parametrize("arch", N.ARCHITECTURES)
def test_architecture_takes_a_training_step(arch, channels, sizes):
    "Every architecture trains on 32 px and on 64 px crops, with 1 and with 3 channels (batch 2)."
    torch.manual_seed(0)
    m = N.build_classifier(arch, 2, channels)
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    m.train()
    for size in sizes:
        before = [p.detach().clone() for p in m.parameters() if p.requires_grad][-1]
        out = m(torch.rand(2, channels, size, size) * 2 - 1)
        assert out.shape == (2, 2)
        loss = F.cross_entropy(out, torch.tensor([0, 1]))
        opt.zero_grad(); loss.backward(); opt.step()
        assert torch.isfinite(loss)
        after = [p.detach() for p in m.parameters() if p.requires_grad][-1]
        assert not torch.equal(before, after), f"{arch} head did not move at {size} px"


def test_unknown_architecture_lists_allowed():
    with pytest.raises(ValueError, match="allowed: resnet50, densenet121, efficientnet_b0, vgg16_bn, inception_v3"):
        N.build_classifier("resnet18", 2, 3)


# ---------------------------------------------------------------- metrics

def _from_confusion(cm):
    "y_true, y_pred realising confusion matrix `cm` (rows true, columns predicted)."
    yt, yp = [], []
    for i, row in enumerate(cm):
        for j, n in enumerate(row): yt += [i] * n; yp += [j] * n
    return np.array(yt), np.array(yp)


def test_binary_metrics_equal_sklearn_and_hand_values():
    # classes ['cancer', 'normal']: cancer (index 0) is the positive class, as in the paper
    yt, yp = _from_confusion([[40, 10], [5, 45]])
    proba = np.where(yp[:, None] == np.arange(2), 0.8, 0.2)
    m = C.classification_metrics(yt, yp, proba, ["cancer", "normal"])
    assert m["accuracy"] == pytest.approx(0.85)
    assert m["recall"] == pytest.approx(40 / 50) == pytest.approx(skm.recall_score(yt, yp, pos_label=0))
    assert m["precision"] == pytest.approx(40 / 45) == pytest.approx(skm.precision_score(yt, yp, pos_label=0))
    assert m["f1"] == pytest.approx(80 / 95) == pytest.approx(skm.f1_score(yt, yp, pos_label=0))
    assert m["balanced_accuracy"] == pytest.approx((0.8 + 0.9) / 2)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(yt == 0, proba[:, 0]))


def test_multiclass_metrics_are_macro_sklearn():
    yt, yp = _from_confusion([[30, 2, 3], [4, 20, 1], [0, 5, 10]])
    proba = np.eye(3)[yp] * 0.7 + 0.1
    m = C.classification_metrics(yt, yp, proba, ["platelets", "rbc", "wbc"])
    for k, f in (("recall", skm.recall_score), ("precision", skm.precision_score), ("f1", skm.f1_score)):
        assert m[k] == pytest.approx(f(yt, yp, average="macro"))
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(yt, proba, multi_class="ovr", average="macro"))


def test_bootstrap_replicate_formulas_equal_sklearn():
    rng = np.random.default_rng(1)
    for n, pos in ((2, 0), (3, None), (4, None)):
        for _ in range(5):
            t, p = rng.integers(0, n, 150), rng.integers(0, n, 150); s = rng.dirichlet(np.ones(n), 150)
            ref = C.classification_metrics(t, p, s, ["cancer", "b", "c", "d"][:n])
            got = C.fast_metrics(t, p, s, n, pos)
            for k in C.METRICS: assert got[k] == pytest.approx(ref[k], abs=1e-12), (n, k)


def test_macro_metrics_weigh_the_minority_class():
    "8 cancer / 2 normal: macro precision, recall and F1 equal scikit-learn's macro averages, unlike the positive-class ones."
    yt, yp = _from_confusion([[7, 1], [1, 1]])
    m = C.classification_metrics(yt, yp, None, ["cancer", "normal"])
    for k, f in (("macro_recall", skm.recall_score), ("macro_precision", skm.precision_score), ("macro_f1", skm.f1_score)):
        assert m[k] == pytest.approx(f(yt, yp, average="macro"))
    assert m["macro_recall"] == pytest.approx((7 / 8 + 1 / 2) / 2) and m["recall"] == pytest.approx(7 / 8)


def test_majority_baseline_scores_chance():
    "Every crop called the training majority class: balanced accuracy and AUROC 0.5, accuracy the majority share."
    from cde.crops import CropSet
    test = CropSet(np.zeros((10, 4, 4, 3), np.uint8), [0] * 7 + [1] * 3, ["cancer", "normal"], [f"f{i}" for i in range(10)])
    r = C.majority_baseline([1, 1, 1, 0], test, ["cancer", "normal"], n_boot=20)
    m = r["metrics"]
    assert r["majority"] == "normal" and r["protocol"] == "baseline"
    assert (m["balanced_accuracy"]["value"], m["auroc"]["value"]) == (0.5, 0.5)
    assert m["accuracy"]["value"] == pytest.approx(0.3) and m["recall"]["value"] == 0  # never says cancer
    assert r["confusion"] == [[0, 7], [0, 3]]


def test_paired_difference_is_paired():
    "An arm against itself differs by 0 in every replicate; a better arm's gain has an interval above 0."
    y = np.array([0, 1] * 30); g = np.arange(60) // 3; good, bad = y.copy(), np.zeros(60, np.int64)
    same = C.paired_difference(y, bad, bad, 2, groups=g, n_boot=100)
    assert (same["value"], same["lo"], same["hi"]) == (0.0, 0.0, 0.0) and C.verdict(same) == "not shown"
    gain = C.paired_difference(y, good, bad, 2, groups=g, n_boot=100)
    assert gain["value"] == pytest.approx(0.5) and gain["lo"] > 0 and C.verdict(gain) == "holds"


def test_bootstrap_interval_is_seeded_and_brackets_the_value():
    yt, yp = _from_confusion([[40, 10], [5, 45]])
    groups = np.arange(len(yt)) // 4  # 25 "source fields" of 4 crops
    a = C.bootstrap_metrics(yt, yp, None, ["cancer", "normal"], n_boot=200, seed=3, groups=groups)
    b = C.bootstrap_metrics(yt, yp, None, ["cancer", "normal"], n_boot=200, seed=3, groups=groups)
    assert a["accuracy"] == b["accuracy"] and a["_bootstrap"]["unit"] == "source"
    assert a["accuracy"]["lo"] < 0.85 < a["accuracy"]["hi"]


# ---------------------------------------------------------------- a small real data tree (blood dev subset)

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    "A root/<class>/ tree of real blood crops from 40 source fields per class, with its meta.csv."
    need_shared()
    root = tmp_path_factory.mktemp("blood_tiny")/"dev"
    rows = list(csv.DictReader(open(BLOOD/"meta.csv")))
    keep = []
    for c in ("cancer", "normal"):
        srcs = sorted({r["source_image"] for r in rows if r["class"] == c and r["split"] == "dev"})[:40]
        keep += [r for r in rows if r["source_image"] in set(srcs) and r["class"] == c]
    for r in keep:
        dst = root/r["file"].split("/", 1)[1]; dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BLOOD/r["file"], dst)
    with open(root/"meta.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["file", "source_image"])
        for r in keep: w.writerow([r["file"].split("/", 1)[1], r["source_image"]])
    return root


@pytest.fixture(scope="module")
def stand_in(tiny, tmp_path_factory):
    """A STAND-IN synthetic folder for plumbing tests only: real crops of the train split written as PNGs.
    It tests bookkeeping, never a generator."""
    from PIL import Image
    cs, _ = read_folder(tiny, 3, 64)
    tr = standard_split(cs, 0)["train"]
    out = tmp_path_factory.mktemp("stand_in")
    for i, (a, l) in enumerate(zip(tr.images, tr.labels)):
        d = out/tr.classes[l]; d.mkdir(exist_ok=True)
        Image.fromarray(a).save(d/f"s{i:04d}.png")
    return out


def test_standard_split_test_shares_no_source_or_image_with_training(tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs, _ = read_folder(BLOOD/"dev", 3, 32)
    sp = standard_split(cs, 0)
    test_src = set(sp["test"].sources)
    assert not test_src & set(sp["train"].sources) and not test_src & set(sp["val"].sources)
    # the ALL set duplicates some fields under two names: the cleaned test split has no pixel twin in training
    clean, dropped = C.drop_duplicates_of(sp["test"], [sp["train"], sp["val"]])
    assert dropped > 0
    assert not C._pixel_hashes(clean) & (C._pixel_hashes(sp["train"]) | C._pixel_hashes(sp["val"]))
    C.check_no_overlap(clean, [("train", sp["train"]), ("val", sp["val"])])
    with pytest.raises(ValueError, match="overlaps the train"):
        C.check_no_overlap(sp["test"], [("train", C.concat_sets(sp["train"], sp["test"].subset([0])))])


# ---------------------------------------------------------------- CLI: bad input fails before training

def _cli(argv, capsys):
    rc = cli_validate([str(a) for a in argv]); return rc, capsys.readouterr().err


def test_cli_unknown_protocol_and_model(tmp_path, capsys):
    rc, err = _cli(["--protocol", "tstx", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "allowed: tstr, trtr, mixed, imbalance" in err
    rc, err = _cli(["--protocol", "trtr", "--models", "resnet50,alexnet", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "'alexnet'" in err and "allowed: resnet50, densenet121" in err
    rc, err = _cli(["--protocol", "tstr", "--dataset", "folder", "--data-dir", tmp_path, "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "needs --synthetic" in err
    assert not (tmp_path/"o").exists()


def test_cli_synthetic_without_the_real_classes(tiny, stand_in, tmp_path, capsys):
    only_cancer = tmp_path/"synth"; shutil.copytree(stand_in/"cancer", only_cancer/"cancer")
    rc, err = _cli(["--dataset", "folder", "--data-dir", tiny, "--synthetic", only_cancer, "--protocol", "tstr",
                    "--models", "efficientnet_b0", "--profile", "smoke", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "lacks the real classes 'normal'" in err and not (tmp_path/"o").exists()
    # a GAN run directory whose classes lack 'normal'
    run = tmp_path/"run"; run.mkdir()
    save_json({"dataset": "folder", "data_dir": str(tiny), "classes": ["cancer"], "split_seed": 0}, run/"config.json")
    save_json({"sources": {"train": []}}, run/"data.json")
    rc, err = _cli(["--dataset", "folder", "--data-dir", tiny, "--synthetic", run, "--protocol", "tstr",
                    "--models", "resnet50", "--profile", "smoke", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "lacks the real classes 'normal'" in err


def test_cli_test_split_overlapping_gan_training_sources(tiny, tmp_path, capsys):
    cs, _ = read_folder(tiny, 3, 64)
    test_sources = sorted(set(standard_split(cs, 0)["test"].sources))
    run = tmp_path/"run"; run.mkdir()
    save_json({"dataset": "folder", "data_dir": str(tiny), "classes": ["cancer", "normal"], "split_seed": 0}, run/"config.json")
    save_json({"sources": {"train": test_sources[:2]}}, run/"data.json")  # as if the GAN had seen test fields
    rc, err = _cli(["--dataset", "folder", "--data-dir", tiny, "--synthetic", run, "--protocol", "tstr",
                    "--models", "resnet50", "--profile", "smoke", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "overlaps the GAN's training sources" in err and not (tmp_path/"o").exists()


def test_cli_external_test_dir_checks(tiny, tmp_path, capsys):
    wrong = tmp_path/"wrong"; shutil.copytree(tiny/"cancer", wrong/"cancer"); shutil.copytree(tiny/"normal", wrong/"benign")
    rc, err = _cli(["--dataset", "folder", "--data-dir", tiny, "--protocol", "trtr", "--models", "vgg16_bn",
                    "--profile", "smoke", "--test-dir", wrong, "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "--test-dir: classes" in err
    same = tmp_path/"same"; shutil.copytree(tiny/"cancer", same/"cancer"); shutil.copytree(tiny/"normal", same/"normal")
    rc, err = _cli(["--dataset", "folder", "--data-dir", tiny, "--protocol", "trtr", "--models", "vgg16_bn",
                    "--profile", "smoke", "--test-dir", same, "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "pixel-identical" in err and not (tmp_path/"o").exists()
    rc, err = _cli(["--dataset", "folder", "--data-dir", tiny, "--protocol", "trtr", "--models", "vgg16_bn",
                    "--profile", "smoke", "--test-dir", tmp_path/"none", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "--test-dir" in err


# ---------------------------------------------------------------- CLI: a smoke run writes Table 1

def test_cli_smoke_run_all_protocols(tiny, stand_in, tmp_path, capsys):
    out = tmp_path/"val"
    rc = cli_validate(["--dataset", "folder", "--data-dir", str(tiny), "--synthetic", str(stand_in),
                         "--protocol", "tstr,trtr,mixed,imbalance", "--models", "efficientnet_b0", "--profile", "smoke",
                         "--imbalance-class", "normal", "--seed", "0", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    res = json.loads((out/"results.json").read_text())
    arms = [r["protocol"] for r in res["rows"]]
    assert arms == ["tstr", "trtr", "mixed", "imbalance_real_normal", "imbalance_restored_normal"]
    by = {r["protocol"]: r for r in res["rows"]}
    assert by["tstr"]["n_real"] == 0 and by["tstr"]["n_synthetic"] == 24  # smoke: 12 per class
    assert by["trtr"]["n_synthetic"] == 0 and by["mixed"]["n_synthetic"] == by["mixed"]["n_real"] == 24
    assert by["imbalance_restored_normal"]["n_real"] + by["imbalance_restored_normal"]["n_synthetic"] == 24
    for r in res["rows"]:
        for k in C.METRICS[:4]: assert 0 <= r["metrics"][k]["lo"] <= r["metrics"][k]["value"] <= r["metrics"][k]["hi"] <= 1
    header = (out/"table1.csv").read_text().splitlines()[0].split(",")
    # what class imbalance does not flatter first; the paper's numbers alone in the last column
    assert [h for h in header if not h.endswith((" lo", " hi"))][:11] == [
        "Model", "Protocol", "Balanced accuracy", "AUROC", "Macro precision", "Macro recall", "Macro F1",
        "Precision (pos.)", "Recall (pos.)", "F1 (pos.)", "Accuracy"]
    assert header[-1] == "Paper accuracy"
    body = list(csv.DictReader(open(out/"table1.csv")))
    assert [r["Protocol"] for r in body] == ["baseline"] + arms  # the majority-class row first, then the model's arms together
    base = res["baseline"]
    train_counts = json.loads((out/"config.json").read_text())["counts"]["train"]  # the real training labels, uncapped
    assert base["majority"] == max(train_counts, key=train_counts.get) and base["n_real"] == sum(train_counts.values()) > 24
    assert base["metrics"]["balanced_accuracy"]["value"] == 0.5 and base["metrics"]["auroc"]["value"] == 0.5
    share = res["test_counts"][base["majority"]] / sum(res["test_counts"].values())
    assert base["metrics"]["accuracy"]["value"] == pytest.approx(share)
    md = (out/"table1.md").read_text()
    assert "| EfficientNet-B0 | tstr |" in md and "| 96.3 |" in md  # paper accuracy beside TSTR, in its own column
    assert "not patient-independent" in md  # the ALL fields carry no patient id
    # the utility claims: mixed against TRTR, restored against still-imbalanced, paired on the same test crops
    assert [(c["arm"], c["control"]) for c in res["claims"]] == [("mixed", "trtr"),
                                                                 ("imbalance_restored_normal", "imbalance_real_normal")]
    for c in res["claims"]:
        d = c["difference"]
        unfit = {r["protocol"] for r in res["summary"] if r["did_not_fit"] >= len(r["seeds"])}  # smoke's 2 steps may stay at one class
        expect = "did not fit" if unfit & {c["arm"], c["control"]} else C.verdict(d)
        assert d["lo"] <= d["value"] <= d["hi"] and c["verdict"] == expect and d["unit"] == "source"
    assert "Do the paper's utility claims hold at the smoke profile?" in md
    assert "\\begin{tabular}" in (out/"table1.tex").read_text()
    assert len(list(out.glob("confusion_*.png"))) == 5
    cfg = json.loads((out/"config.json").read_text())
    assert cfg["protocols"] == ["tstr", "trtr", "mixed", "imbalance"] and cfg["split_seed"] == 0
    # runs are never overwritten
    assert cli_validate(["--dataset", "folder", "--data-dir", str(tiny), "--protocol", "trtr", "--models", "vgg16_bn",
                           "--profile", "smoke", "--out", str(out)]) == 2


def test_cli_seeds_steps_and_threads(tiny, tmp_path, capsys):
    "--seeds trains each cell with that many seeds (one row each, one Table 1 cell), --max-steps bounds them, --threads auto uses every core."
    out = tmp_path/"val"
    rc = cli_validate(["--dataset", "folder", "--data-dir", str(tiny), "--protocol", "trtr", "--models", "resnet50", "--profile", "smoke",
                       "--seeds", "2", "--max-steps", "3", "--threads", "auto", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    res = json.loads((out/"results.json").read_text())
    assert [(r["seed"], r["train"]["steps"]) for r in res["rows"]] == [(0, 3), (1, 3)]
    assert [(c["model"], c["seeds"]) for c in res["summary"]] == [("resnet50", [0, 1])]
    assert res["config"]["threads"] == torch.get_num_threads() and res["config"]["training_seeds"] == [0, 1]
    torch.set_num_threads(1)  # back to the module's one thread
    md = (out/"table1.md").read_text()
    assert "mean of 2 training seeds" in md and "trained for 3 steps" in md
    for bad in (["--threads", "0"], ["--seeds", "0"], ["--max-steps", "-1"]):
        try: rc = cli_validate(["--dataset", "folder", "--data-dir", str(tiny), "--protocol", "trtr", "--models", "resnet50",
                                "--profile", "smoke", "--out", str(tmp_path/"bad"), *bad])
        except SystemExit as e: rc = e.code  # argparse refuses the value
        assert rc == 2 and not (tmp_path/"bad").exists(), bad


# ---------------------------------------------------------------- TSTR with a real (smoke-profile) GAN run

def test_tstr_with_a_gan_run(tiny, tmp_path, capsys):
    "The full TSTR path through cde.train: a smoke GAN run on the tiny blood tree, then `cde validate` on it."
    train = pytest.importorskip("cde.train")
    run = tmp_path/"gan"
    from cde.cli import main
    assert main(["train", "--dataset", "folder", "--data-dir", str(tiny), "--profile", "smoke", "--size", "32",
                 "--out", str(run), "--set", "max_per_class=16", "--set", "num_threads=1", "--no-progress"]) == 0
    out = tmp_path/"val"
    rc = cli_validate(["--synthetic", str(run), "--protocol", "tstr,trtr", "--models", "resnet50", "--profile", "smoke",
                         "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    res = json.loads((out/"results.json").read_text())
    assert [r["protocol"] for r in res["rows"]] == ["tstr", "trtr"]
    assert res["rows"][0]["n_synthetic"] > 0 and res["rows"][0]["n_real"] == 0
    # the same validation from Python, as nbs/run_domain.ipynb calls it (keyword arguments): the same numbers and records
    res2 = C.validate(out=tmp_path/"val2", synthetic=run, protocols="tstr,trtr", models="resnet50", profile="smoke", progress=False)
    assert json.dumps([(r["protocol"], r["metrics"], r["confusion"]) for r in res2["rows"]]) == \
        json.dumps([(r["protocol"], r["metrics"], r["confusion"]) for r in res["rows"]])
    assert sorted(p.name for p in (tmp_path/"val2").iterdir()) == sorted(p.name for p in out.iterdir())
    cfg, cfg2 = (json.loads((d/"config.json").read_text()) for d in (out, tmp_path/"val2"))
    assert cfg.pop("argv")[:2] == ["--synthetic", str(run)] and cfg2.pop("argv") is None and cfg2 == cfg
    with pytest.raises(TypeError, match="positional"): C.validate(tmp_path/"val3")
    gan_train = set(json.loads((run/"data.json").read_text())["sources"]["train"])
    assert not gan_train & set(res["test_sources"])  # the GAN never saw the test fields


def test_local_weights_are_found_and_checked(tmp_path, capsys):
    "--weights: a directory of <arch>*.pth files (an untrained state dict stands in for an ImageNet file here)."
    torch.save(N._torchvision_net("efficientnet_b0").state_dict(), tmp_path/"efficientnet_b0-stand-in.pth")
    w = C.parse_weights(str(tmp_path), ["efficientnet_b0"])
    assert w == {"efficientnet_b0": tmp_path/"efficientnet_b0-stand-in.pth"}
    m = N.build_classifier("efficientnet_b0", 2, 1, weights=w["efficientnet_b0"])
    assert m.replicate and m(torch.zeros(2, 1, 32, 32)).shape == (2, 2)  # grey crops replicated to RGB for ImageNet filters
    with pytest.raises(FileNotFoundError, match="no resnet50"):
        C.parse_weights(str(tmp_path), ["resnet50"])
    rc, err = _cli(["--protocol", "trtr", "--models", "vgg16_bn", "--weights", tmp_path/"nope", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "--weights" in err


def test_cli_single_class_dataset_is_refused(tiny, tmp_path, capsys):
    one = tmp_path/"one"; shutil.copytree(tiny/"cancer", one/"cancer")
    rc, err = _cli(["--dataset", "folder", "--data-dir", one, "--protocol", "trtr", "--models", "vgg16_bn",
                    "--profile", "smoke", "--out", tmp_path/"o"], capsys)
    assert rc == 2 and "at least two classes" in err and not (tmp_path/"o").exists()
