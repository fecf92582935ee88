"Paper-companion tests: papermill run_domain at the smoke profile, `cde export`, `cde reproduce` errors."
import json, subprocess, sys
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
                        parameters={"dataset": "sample", "profile": "smoke",
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

def test_export_writes_datacard(smoke_run, tmp_path):
    r = cde("export", smoke_run/"gan", "--n", 12, "--out", tmp_path/"syn")
    assert r.returncode == 0, r.stderr
    card = json.loads((tmp_path/"syn"/"datacard.json").read_text())
    assert card["n_images"] == 12 and len(card["files"]) == 12
    assert card["metrics"]["n_synthetic"] == 48  # the run's evaluation travels with the data
    assert not card["run_dir"].startswith("/") and not str(card["source"]["data_dir"] or "").startswith("/")
    md = (tmp_path/"syn"/"DATACARD.md").read_text()
    assert "FID" in md and "CC0" in md and "memorization audit" in md
    again = cde("export", smoke_run/"gan", "--n", 12, "--out", tmp_path/"syn")
    assert again.returncode == 2 and "not empty" in again.stderr

def test_run_domain_rejects_bad_parameters(tmp_path):
    import papermill as pm
    for params, msg in [({"dataset": "mitochondria"}, "unknown dataset"),
                        ({"dataset": "nuclei"}, "cde download nuclei"),
                        ({"dataset": "sample", "profile": "paper"}, "meant for a GPU"),
                        ({"dataset": "sample", "protocols": "tstr,mixd"}, "unknown 'mixd'")]:
        with pytest.raises(pm.PapermillExecutionError, match=msg):
            pm.execute_notebook(str(ROOT/"nbs"/"run_domain.ipynb"), str(tmp_path/"x.ipynb"), cwd=str(ROOT),
                                parameters={**params, "out_dir": str(tmp_path/"o")}, progress_bar=False)

def test_reproduce_cli_errors(tmp_path):
    r = cde("reproduce", "--data-root", tmp_path/"nothing")
    assert r.returncode == 2 and "DATA_ROOT/<domain>/dev" in r.stderr
    r = cde("reproduce", "--data-root", tmp_path, "--domains", "retina")
    assert r.returncode == 2 and "allowed: nuclei, blood, colon" in r.stderr
