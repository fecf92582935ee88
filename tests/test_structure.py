"The shape of the package (issue #13): who may import the training loop and the CLI, where a profile is resolved, module sizes."
import ast, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in (ROOT/"cde").glob("*.py") if p.name not in ("__init__.py", "_modidx.py"))
MAX_LINES = 500


def imports(path: Path) -> set:
    "Every cde module `path` imports: `import cde.x`, `from cde.x import`, `from .x import`, `from cde import x`, `importlib.import_module('cde.x')`."
    tree, out = ast.parse(path.read_text()), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("cde.")}
        elif isinstance(node, ast.ImportFrom):
            mod = ("cde." + (node.module or "")) if node.level else (node.module or "")
            mod = mod.rstrip(".")
            if mod == "cde": out |= {f"cde.{a.name}" for a in node.names}
            elif mod.startswith("cde."): out.add(mod)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("cde."):
                out.add(node.args[0].value)
    return out


def test_import_rules_see_every_form():
    "The checker itself: each import form is caught (so the rules below cannot pass by missing one)."
    import tempfile
    src = ("import cde.train\nfrom cde.cli import main\nfrom .curate import x\nfrom cde import run\n"
           "def f():\n    import importlib; importlib.import_module('cde.metrics')\n")
    p = Path(tempfile.mkdtemp())/"m.py"; p.write_text(src)
    assert imports(p) == {"cde.train", "cde.cli", "cde.curate", "cde.run", "cde.metrics"}


def test_only_the_cli_imports_the_training_loop():
    "Metrics, classifiers, figures, export and the explorer use a finished run through `cde.run`, never the loop."
    bad = {p.name: sorted(imports(p)) for p in MODULES if p.stem not in ("cli", "train") and "cde.train" in imports(p)}
    assert not bad, f"these modules import cde.train: {bad}"


def test_nothing_imports_the_cli():
    bad = [p.name for p in MODULES if p.stem != "cli" and "cde.cli" in imports(p)]
    assert not bad, f"these modules import cde.cli: {bad}"


def test_data_does_not_import_curate():
    assert "cde.curate" not in imports(ROOT/"cde"/"data.py")


def test_module_sizes():
    "No library module over ~500 lines."
    big = {p.name: n for p in MODULES if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_one_profile_table_resolved_in_one_function():
    "One table (`config.PROFILES`); the only function that selects from it by name is `config.resolve_profile`; no other profile table."
    tables = [(p.name, t.id) for p in MODULES for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.Assign)
              for t in node.targets if isinstance(t, ast.Name) and re.fullmatch(r"\w*PROFILES", t.id)]
    assert tables == [("config.py", "PROFILES")], tables
    selectors = set()
    for p in MODULES:
        for fn in ast.walk(ast.parse(p.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)): continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "PROFILES":
                    selectors.add(f"{p.stem}.{fn.name}")
    assert selectors == {"config.resolve_profile"}, selectors


def test_cde_train_entry_resolves_once(tmp_path, monkeypatch):
    "`cde train --profile auto`: the loop receives a frozen, resolved RunConfig (auto → quick on a CPU), not a name to resolve."
    import cde.train as T
    from cde.cli import main
    from cde.config import PROFILES
    from cde.run import RunConfig
    got = {}
    def fake_loop(cfg, parts, out, **kw):
        got.update(cfg=cfg, parts=parts, out=out); return out
    monkeypatch.setattr(T, "train_loop", fake_loop)
    import torch; monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "--dataset", "sample", "--profile", "auto", "--model", "dcgan", "--out", str(tmp_path/"run")]) == 0
    cfg = got["cfg"]
    assert type(cfg) is RunConfig and cfg["profile"] == "quick"
    assert all(cfg[k] == v for k, v in PROFILES["quick"]["train"].items()), "the loop got the quick profile's settings"
    with pytest.raises(TypeError): cfg["epochs"] = 1  # frozen
    assert len(got["parts"]["train"]) > 0


def test_cde_reproduce_entry_resolves_once(tmp_path, monkeypatch):
    "`cde reproduce --profile auto`: resolved once into a Profile; the domain loop gets the object and each notebook its resolved settings."
    import yaml
    import cde.figures as F
    from cde.cli import main
    from cde.config import Profile, resolve_profile
    import torch; monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    data = tmp_path/"data"
    for d in ("nuclei",): (data/d/"dev").mkdir(parents=True)
    (data/"nuclei"/"dev_masks").mkdir()  # masks beside the crops: the notebook gets them (the segmentation arm)
    calls = []
    real_run_domains = F.run_domains
    import subprocess
    Popen = subprocess.Popen
    class Done:  # a papermill process that finished at once (other processes, e.g. git, run as usual)
        returncode = 0
        def __new__(cls, cmd, *a, **kw): return super().__new__(cls) if "papermill" in cmd else Popen(cmd, *a, **kw)
        def __init__(self, *a, **kw): pass
        def poll(self): return 0
    monkeypatch.setattr(subprocess, "Popen", Done)
    def spy(domains, data_root, out, profile, *a, **kw):
        calls.append(profile); return real_run_domains(domains, data_root, out, profile, *a, **kw)
    monkeypatch.setattr(F, "run_domains", spy)
    rc = main(["reproduce", "--data-root", str(data), "--profile", "auto", "--domains", "nuclei", "--out", str(tmp_path/"r"), "--jobs", "1"])
    assert rc == 2  # no summary.json: the stand-in notebook wrote nothing
    assert len(calls) == 1 and type(calls[0]) is Profile and calls[0].name == "quick"
    params = yaml.safe_load(next((tmp_path/"r").glob("*/nuclei/params.yaml")).read_text())
    assert params["profile"] == resolve_profile("quick").to_dict(), params["profile"]  # the notebook gets settings, not a name
    assert (params["n_eval"], params["max_eval_real"]) == (500, 500)  # the evaluate part of the same table
    assert Path(params["mask_dir"]) == (data/"nuclei"/"dev_masks").resolve()


def test_readme_layout_lists_every_module():
    "The README's Layout table names exactly the package's modules."
    sec = (ROOT/"README.md").read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    assert sorted(re.findall(r"^\| `(\w+)` \|", sec, re.M)) == sorted(p.stem for p in MODULES)


def test_detect_depends_only_on_config_crops_and_metrics():
    "The C2ST detector (`cde.detect`) is a metric that needs no run, no Inception and no training loop: beside config and crops it uses only `cde.metrics`'s cluster bootstrap, and `cde.metrics` itself imports only config and crops (its Inception network loads lazily)."
    assert imports(ROOT/"cde"/"detect.py") <= {"cde.config", "cde.crops", "cde.metrics"}, imports(ROOT/"cde"/"detect.py")
    assert imports(ROOT/"cde"/"metrics.py") <= {"cde.config", "cde.crops"}, imports(ROOT/"cde"/"metrics.py")
