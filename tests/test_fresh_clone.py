"""The README's main job, verbatim, in a fresh clone of the committed tree with nothing beside it.

A user's machine has only the repository: no ../shared, no runs/, no caches. This clones HEAD into an empty
temporary folder, makes a virtual environment there (with this interpreter's packages visible, so PyTorch is not
installed again), and runs the README's main-job command exactly as written, with papermill parameters appended
only to shorten it. It is slow (a pip install and a short pipeline run), so it runs once, here.
"""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from test_repo import quickstart_commands  # the README parser the repository checks already use

ROOT = Path(__file__).resolve().parents[1]
SHORTEN = " -p gan_minutes 0.2 -p n_eval 64 -p max_eval_real 128"

def quickstart():
    "The two commands of the README's Quick start: (main job, test command)."
    cmds = quickstart_commands()
    assert len(cmds) == 2, cmds
    return cmds[0], cmds[1]

def test_readme_test_command_is_the_ci_test_line():
    ci = [l.strip() for l in (ROOT/".ci"/"run").read_text().splitlines()]
    assert quickstart()[1] in ci

def test_main_job_verbatim_in_a_fresh_clone(tmp_path):
    main_job, _ = quickstart()
    assert main_job.startswith("pip install -e ") and " && papermill nbs/run_domain.ipynb " in main_job, main_job
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                                     capture_output=True).returncode != 0:
        pytest.fail("the fresh-clone test needs git and a git checkout of the project")
    home = tmp_path/"user"; home.mkdir()
    clone = home/"project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    assert not (clone.parent/"shared").exists() and not (clone/"runs"/"00000-sample-quick").exists()
    venv = home/"venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDE_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(PATH=f"{venv/'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv), HOME=str(home),
               CDE_CACHE=str(home/".cache"/"cde"), PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg")
    # the venv's own papermill, so the notebook kernel is this venv's python (and imports the clone's cde)
    subprocess.run([venv/"bin"/"python", "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", "papermill"],
                   check=True, env=env, capture_output=True)
    r = subprocess.run(["bash", "-c", main_job + SHORTEN], cwd=clone, env=env, capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-5000:])
    where = subprocess.run([venv/"bin"/"python", "-c", "import cde; print(cde.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True).stdout.strip()
    assert Path(where).resolve().is_relative_to(clone.resolve()), where   # the clone's code ran, not this checkout's
    assert (clone/"runs"/"sample.ipynb").exists()
    (out,) = [p for p in (clone/"runs").iterdir() if p.is_dir()]
    m = json.loads((out/"gan"/"metrics.json").read_text())
    assert m["n_synthetic"] == 64 and m["fid"]["n_real"] >= 50, (m["fid"], m["n_note"])  # 128 held-out crops, halved
    assert (m["floor"]["n_a"], m["floor"]["n_b"]) == (m["fid"]["n_synthetic"], m["fid"]["n_real"]), m["floor"]
    assert (out/"gan"/"losses.csv").read_text().startswith("unit,kind,epoch,step")
    for f in ("figure1_losses.png", "real_fake.png"): assert (out/"figures"/f).stat().st_size > 10_000
    s = json.loads((out/"summary.json").read_text())
    assert s["parameters"]["dataset"] == "sample" and s["parameters"]["gan_minutes"] == 0.2
