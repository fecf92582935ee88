"Docs: what can be tested without Quarto (which cannot be installed here) — nbdev's notebook processing."
import os, shutil, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_nbdev_proc_nbs_processes_every_notebook(tmp_path):
    "nbdev_proc_nbs (the step before `quarto render`) runs every notebook's doc cells without error."
    shutil.rmtree(ROOT/"_proc", ignore_errors=True)
    r = subprocess.run(["nbdev_proc_nbs"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Error in notebook" not in r.stderr, r.stderr[-3000:]
    done = {p.name for p in (ROOT/"_proc").glob("*.ipynb")}
    assert {p.name for p in (ROOT/"nbs").glob("*.ipynb")} <= done
    assert (ROOT/"_proc"/"_quarto.yml").exists()
