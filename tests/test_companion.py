"Paper-companion tests: papermill run_domain at the smoke profile, `cde export`, `cde reproduce` errors."
import contextlib, json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

def cde(*args, cwd=ROOT):
    return subprocess.run(["cde", *map(str, args)], capture_output=True, text=True, cwd=cwd)

@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    "papermill nbs/run_domain.ipynb at the smoke profile on the embedded real nuclei (`sample`)."
    import papermill as pm
    out = tmp_path_factory.mktemp("pm")/"nuclei"
    pm.execute_notebook(str(ROOT/"nbs"/"run_domain.ipynb"), str(out.parent/"nuclei.ipynb"), cwd=str(ROOT),
                        parameters={"dataset": "sample", "profile": "smoke", "segment": True,
                                    "n_eval": 48, "gan_minutes": 0.25, "max_eval_real": 96, "out_dir": str(out)},
                        progress_bar=False)
    return out

def test_run_domain_papermill_outputs(smoke_run):
    import nbformat
    nb = nbformat.read(smoke_run.parent/"nuclei.ipynb", as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    m = json.loads((smoke_run/"gan"/"metrics.json").read_text())
    assert np.isfinite(m["fid"]["fid"]) and m["fid"]["fid"] > 0 and m["n_synthetic"] == 48 and m["fid"]["n_synthetic"] <= 48
    assert (m["floor"]["n_a"], m["floor"]["n_b"]) == (m["fid"]["n_synthetic"], m["fid"]["n_real"]), (m["floor"], m["fid"], m["n_note"])
    assert m["n_real"] == 96 and m["fid"]["interval"]["unit"] in ("source image", "crop")
    n_train = json.loads((smoke_run/"gan"/"data.json").read_text())["n"]["train"]
    assert m["memorization"]["n_train"] == n_train  # the audit searches the whole training part, not max_eval_real of it
    assert m["fid"]["interval"]["low"] <= m["fid"]["fid"] <= m["fid"]["interval"]["high"]
    losses = (smoke_run/"gan"/"losses.csv").read_text().splitlines()
    assert losses[0].startswith("unit,kind,epoch,step,g_loss,d_loss") and len(losses) > 3
    for f in ("figure1_losses.png", "real_fake.png"):
        im = np.asarray(Image.open(smoke_run/"figures"/f))
        assert im.shape[0] > 200 and im.shape[1] > 200 and im.std() > 5  # a drawn figure, not a blank canvas
    summary = json.loads((smoke_run/"summary.json").read_text())
    assert summary["parameters"]["profile"] == "smoke" and summary["timings"]["total_s"] > 0
    # the embedded nuclei carry masks: the segmentation arm ran (pair generator, U-Nets per arm, Figure 5, table)
    assert json.loads((smoke_run/"pairs"/"config.json").read_text())["pair_model"] == "conditional"
    res = json.loads((smoke_run/"segment"/"results.json").read_text())
    assert [r["arm"] for r in res["summary"]] == ["trtr", "few_real", "tstr", "mixed", "few_real_synthetic"]
    assert "Dice" in (smoke_run/"segment"/"table_seg.md").read_text() and summary["segment_claims"] == res["claims"]
    assert np.asarray(Image.open(smoke_run/"segment"/"figure5_pairs.png")).std() > 5
    few = json.loads((smoke_run/"pairs_few"/"data.json").read_text())  # the few-masks arm's own generator, with pseudo-labels
    assert few["pseudo_masks"]["n"] > 0 and "pseudo-labels" in res["few_synthetic"] and res["few_fraction"] == 0.02

def test_export_writes_datacard(smoke_run, tmp_path):
    r = cde("export", smoke_run/"gan", "--n", 12, "--out", tmp_path/"syn")
    assert r.returncode == 0, r.stderr
    card = json.loads((tmp_path/"syn"/"datacard.json").read_text())
    assert card["n_images"] == 12 and len(card["files"]) == 12
    assert card["metrics"]["n_synthetic"] == 48  # the run's evaluation travels with the data
    assert not card["run_dir"].startswith("/") and not str(card["source"]["data_dir"] or "").startswith("/")
    md = (tmp_path/"syn"/"README.md").read_text()
    assert md.startswith("---\nlicense: cc0-1.0\n") and "FID" in md and "CC0" in md and "memorization audit" in md
    again = cde("export", smoke_run/"gan", "--n", 12, "--out", tmp_path/"syn")
    assert again.returncode == 2 and "not empty" in again.stderr

def test_export_loads_with_datasets(smoke_run, tmp_path):
    "`cde export` writes a folder that `datasets.load_dataset('imagefolder', ...)` loads with the right labels and metadata."
    datasets = pytest.importorskip("datasets", reason="datasets is not installed (it is in the dev extra)")
    r = cde("export", smoke_run/"gan", "--n", 10, "--out", tmp_path/"syn")
    assert r.returncode == 0, r.stderr
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path/"syn"), split="train", cache_dir=str(tmp_path/"hf"))
    card = json.loads((tmp_path/"syn"/"datacard.json").read_text())
    assert len(ds) == 10 and {c: ds["label"].count(c) for c in set(ds["label"])} == card["counts"]
    meta = [json.loads(l) for l in (tmp_path/"syn"/"metadata.jsonl").read_text().splitlines()]
    by_file = {m["file_name"]: m for m in meta}
    for ex in ds:  # each image carries its own row: the label matches its class folder
        name = Path(ex["image"].filename).relative_to(tmp_path/"syn").as_posix()
        assert by_file[name]["label"] == ex["label"] == name.split("/")[0]
        assert ex["discriminator_score"] == by_file[name]["discriminator_score"]
    assert ds.class_encode_column("label").features["label"].names == sorted(card["counts"])


def test_run_domain_rejects_bad_parameters(tmp_path):
    import papermill as pm
    for params, msg in [({"dataset": "mitochondria"}, "unknown dataset"),
                        ({"dataset": "nuclei"}, "cde download nuclei"),
                        ({"dataset": "sample", "profile": "paper"}, "meant for a GPU"),
                        ({"dataset": "sample", "protocols": "tstr,mixd"}, "unknown 'mixd'"),
                        ({"dataset": "sample", "mask_dir": str(tmp_path/"nowhere")}, "is not a directory"),
                        ({"dataset": "sample", "segment": "yes"}, "True, False or 'auto'")]:
        with pytest.raises(pm.PapermillExecutionError, match=msg):
            pm.execute_notebook(str(ROOT/"nbs"/"run_domain.ipynb"), str(tmp_path/"x.ipynb"), cwd=str(ROOT),
                                parameters={**params, "out_dir": str(tmp_path/"o")}, progress_bar=False)

def test_reproduce_cli_errors(tmp_path):
    r = cde("reproduce", "--data-root", tmp_path/"nothing")
    assert r.returncode == 2 and "DATA_ROOT/<domain>/dev" in r.stderr
    r = cde("reproduce", "--data-root", tmp_path, "--domains", "retina")
    assert r.returncode == 2 and "allowed: nuclei, blood, colon" in r.stderr

def crop_root(root, domains=("nuclei", "colon")):
    "A DATA_ROOT for `cde reproduce` from the embedded real nuclei crops: `<domain>/dev/<class>/*.png` with `<domain>/meta.csv`."
    import csv
    from cde.crops import save_crops
    from cde.data import load_domain
    cs = load_domain("sample", progress=False)
    for dom in domains:
        paths = save_crops(cs, root/dom/"dev")
        with open(root/dom/"meta.csv", "w", newline="") as f:
            w = csv.writer(f); w.writerow(["file", "source_image"])
            w.writerows((p.relative_to(root/dom).as_posix(), s) for p, s in zip(paths, cs.sources))
    return root

def kill_tree(pid):
    "SIGKILL a process and everything it started (papermill's kernels included), as a crash or `kill -9` would."
    import psutil
    procs = [psutil.Process(pid)] + psutil.Process(pid).children(recursive=True)
    for q in procs:
        with contextlib.suppress(psutil.NoSuchProcess): q.kill()  # it may have ended on its own meanwhile
    alive = psutil.wait_procs(procs, timeout=30)[1]
    assert not alive, f"still running after SIGKILL: {alive}"

def test_reproduce_resumes_after_kill(tmp_path):
    "A smoke `cde reproduce` killed after its first domain: the same command again resumes the run folder, does not retrain that domain, and finishes."
    import time
    root = crop_root(tmp_path/"data")
    args = ["reproduce", "--data-root", root, "--profile", "smoke", "--domains", "nuclei,colon", "--jobs", 1,
            "--n-eval", 32, "--max-eval-real", 64, "--out", tmp_path/"runs"]
    committed = (ROOT/"figures"/"reproduce.json").read_bytes()
    p = subprocess.Popen(["cde", *map(str, args)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run, t0 = tmp_path/"runs"/"00000-reproduce-smoke", time.time()
    try:
        while not (run/"nuclei"/"summary.json").exists():
            assert p.poll() is None, f"cde reproduce ended (exit {p.returncode}) before its first domain finished"
            assert time.time() - t0 < 900, "the first smoke domain took over 15 minutes"
            time.sleep(1)
        time.sleep(3)  # the second domain has started
    finally: kill_tree(p.pid)
    assert not (run/"colon"/"summary.json").exists() and not (run/"reproduce.json").exists()
    first = {f: (run/"nuclei"/f).stat().st_mtime_ns for f in ("summary.json", "gan/status.json", "gan/metrics.json")}
    r = cde(*args)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"resuming: {run}" in r.stdout and "nuclei: finished in an earlier run, not run again" in r.stdout, r.stdout
    assert {f: (run/"nuclei"/f).stat().st_mtime_ns for f in first} == first  # not trained, evaluated or summarized again
    assert (run/"colon"/"summary.json").exists() and sorted(p.name for p in (tmp_path/"runs").iterdir()) == [run.name]
    rec = json.loads((run/"figures"/"reproduce.json").read_text())
    assert rec["resumed"] is True and set(rec["timings_per_domain"]) == {"nuclei", "colon"}
    assert rec["environment"]["cpu_count"] == os.cpu_count() and "cpu" in rec["environment"]  # the machine beside its timings
    fid = (run/"figures"/"fid_table.md").read_text()
    assert "nuclei" in fid and "colon" in fid and (run/"figures"/"figure1_losses.png").exists()
    assert (ROOT/"figures"/"reproduce.json").read_bytes() == committed  # the repository's figures only with --figures figures
