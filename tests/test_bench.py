"""The benchmark scripts' own small pieces (the benchmarks themselves run outside the test suite)."""
import sys
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/"bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/"tools"))
from results import recorded_git  # the reader tools/readme.py writes the README with
from quality import parse_variant, scrub, report  # noqa: E402

def test_parse_variant_reads_numbers_booleans_and_presets():
    assert parse_variant("cde") == ("cde", {"model": "cde"})
    name, cfg = parse_variant("fast=cde:lr_g=2e-4,batch_size=16,spectral_norm=false,loss=rpgan,ada_target=0.6")
    assert name == "fast" and cfg == {"model": "cde", "lr_g": 2e-4, "batch_size": 16, "spectral_norm": False,
                                      "loss": "rpgan", "ada_target": 0.6}
    assert isinstance(cfg["lr_g"], float) and isinstance(cfg["batch_size"], int)

def test_parse_variant_rejects_a_pair_without_value():
    with pytest.raises(SystemExit, match="expected key=value"): parse_variant("x=cde:lr_g")

def test_variant_values_reach_a_checked_config():
    from cde.run import resolve_config
    _, over = parse_variant("x=cde:lr_g=2e-4,lr_d=4e-4")
    cfg = resolve_config({**over, "dataset": "sample", "profile": "smoke", "device": "cpu"})
    assert cfg["lr_g"] == 2e-4 and cfg["lr_d"] == 4e-4
    with pytest.raises(ValueError, match="lr_g: must be a number > 0"): resolve_config({"dataset": "sample", "lr_g": "fast", "profile": "smoke", "device": "cpu"})

def _row(variant: str, seed: int, fid: float, domain: str = "nuclei", budget: float = 900.0) -> dict:
    "A hand-made quality row with what `report` reads."
    m = {"fid": fid, "precision": 0.2, "recall": 0.01, "density": 0.1, "coverage": 0.05, "n_fake": 1000}
    return {"domain": domain, "variant": variant, "seed": seed, "budget_s": budget, "final": {"ema": m},
            "floor": {"fid": 22.7, "precision": 0.86, "recall": 0.92}, "n_test": 1201, "n_test_sources": 97,
            "images_seen": 1000, "train_img_per_s": 10.0, "git": {"commit": "0" * 40, "dirty": False}}

def test_report_divides_each_median_fid_by_the_dcgans_of_its_domain_and_budget():
    rows = ([_row("dcgan", s, f) for s, f in enumerate((160.0, 390.0, 170.0))] + [_row("cde", s, f) for s, f in enumerate((100.0, 90.0, 120.0))]
            + [_row("cde", 0, 80.0, "colon")] + [_row("cde", 0, 50.0, budget=7200.0)] + [_row("cde_n2000", 0, 90.0)])
    rows[-1]["final"]["ema"]["n_fake"] = 2000
    table = {(c[0].strip("| "), c[1], c[2]): c for c in (l.split(" | ") for l in report({"rows": rows}).splitlines()[2:])}
    col = report({"rows": rows}).splitlines()[0].split(" | ").index("FID median ÷ DCGAN's")
    assert table["nuclei", "cde", "900 s"][col] == f"{100 / 170:.2f}" and table["nuclei", "dcgan", "900 s"][col] == "1.00"  # medians: one diverged run does not decide
    assert table["colon", "cde", "900 s"][col] == "–" and table["nuclei", "cde", "7200 s"][col] == "–"  # no DCGAN there
    assert table["nuclei", "cde_n2000", "900 s"][col] == "–"  # nor at that n (FID's bias depends on n)
    assert table["nuclei", "dcgan", "900 s"][col - 1] == "1 of 3"  # the diverged baseline run is counted

def test_scrub_removes_machine_paths(tmp_path):
    row = {"run_dir": str(tmp_path/"runs"/"a"), "cfg": {"data_dir": str(tmp_path/"data"/"nuclei")}}
    out = scrub(row, tmp_path/"data", tmp_path/"runs")
    assert out == {"run_dir": "<runs>/a", "cfg": {"data_dir": "$CDE_SHARED_DATA/nuclei"}}


# ---- provenance: every result file says which code made it (issue 12, item 11) ----
import ast, json, re, warnings  # noqa: E402
ROOT = Path(__file__).resolve().parents[1]
WRITERS = sorted((ROOT/"bench").glob("*.py")) + [ROOT/"cde"/"figures.py"]  # every writer of bench/results/*.json and figures/reproduce.json
RESULTS = sorted((ROOT/"bench"/"results").glob("*.json")) + [ROOT/"figures"/"reproduce.json"]


def _keys(node) -> set:
    "String keys of a dict literal (and of `{**x, ...}` parts that are dict literals)."
    if not isinstance(node, ast.Dict): return set()
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def saved_keys(path) -> list:
    "For each `save_json(payload, ...)` call in a script: (line, keys the payload is given anywhere in the script)."
    tree = ast.parse(Path(path).read_text())
    given = {}  # name -> keys from `name = {...}` and `name["key"] = ...` anywhere in the module
    for n in ast.walk(tree):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name): given.setdefault(t.id, set()).update(_keys(n.value))
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and isinstance(t.slice, ast.Constant):
                    given.setdefault(t.value.id, set()).add(t.slice.value)
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "save_json" and n.args:
            a = n.args[0]
            out.append((n.lineno, _keys(a) if isinstance(a, ast.Dict) else given.get(getattr(a, "id", None), set())))
    return out


def test_saved_keys_sees_a_payload_without_provenance(tmp_path):
    "The static check itself: it tells a payload with provenance from one without."
    p = tmp_path/"w.py"
    p.write_text('res = {"a": 1}\nres["provenance"] = 2\nsave_json(res, "x")\nsave_json({"b": 1}, "y")\n'
                 'row = {"git": 1, "config": 2}\nsave_json(row, "z")\n')
    assert saved_keys(p) == [(3, {"a", "provenance"}), (4, {"b"}), (6, {"git", "config"})]


@pytest.mark.parametrize("path", WRITERS, ids=lambda p: p.name)
def test_every_result_writer_records_provenance(path):
    "Every JSON a benchmark or `reproduce` writes carries `provenance` (git commit, dirty flag, resolved config), or a row's own `git` and `config`."
    calls = saved_keys(path)
    assert calls or "save_json" not in path.read_text(), f"{path.name}: save_json used in a way this check cannot read"
    for line, keys in calls:
        assert "provenance" in keys or {"git", "config"} <= keys, f"{path.name}:{line}: save_json payload without provenance ({sorted(keys)})"
    src = path.read_text()
    assert "def git_state" not in src, f"{path.name}: use cde.config.git_state, not a copy"
    if calls: assert re.search(r"from cde\.config import[^\n]*\b(provenance|git_state)\b", src) or path.parent.name == "cde"


def test_recorded_git_reads_new_and_old_records():
    new = {"provenance": {"git": {"commit": "a" * 40, "dirty": True}}, "rows": [{"git": {"commit": "b" * 40, "dirty": False}}]}
    assert recorded_git(new) == [{"commit": "a" * 40, "dirty": True}, {"commit": "b" * 40, "dirty": False}]
    assert recorded_git({"environment": {"git_commit": "c" * 40}}) == [{"commit": "c" * 40, "dirty": None}]
    both = {"provenance": {"git": {"commit": "d" * 40, "dirty": False}}, "environment": {"git_commit": "d" * 40}}
    assert recorded_git(both) == [{"commit": "d" * 40, "dirty": False}]  # the environment beside the provenance adds nothing
    assert recorded_git({"rows": []}) == []


def readme_passages() -> list:
    "README bullets and paragraphs (a bullet with its continuation lines)."
    out, cur = [], []
    for line in (ROOT/"README.md").read_text().splitlines():
        if not line.strip() or line.startswith("- "):
            if cur: out.append("\n".join(cur))
            cur = [line] if line.strip() else []
        else: cur.append(line)
    return out + (["\n".join(cur)] if cur else [])


def sources_of(passage: str) -> list:
    "The result files a README passage quotes: every `bench/results/*.json` or `figures/reproduce.json` it names, and the results of a `bench/*.py` named on its first line."
    files = re.findall(r"`(bench/results/\w+\.json|figures/reproduce\.json)`", passage)
    files += [f"bench/results/{m}.json" for m in re.findall(r"`bench/(\w+)\.py`", passage.splitlines()[0])]
    return [ROOT/f for f in dict.fromkeys(files) if (ROOT/f).exists()]


def test_readme_names_the_commit_of_every_quoted_result():
    "Where the README quotes a result file, it names the commit(s) that made it, says when the tree was dirty or its state unknown, or says the commit was not recorded."
    checked = set()
    for p in readme_passages():
        for f in sources_of(p):
            checked.add(f.name)
            g = recorded_git(json.loads(f.read_text()))
            if not g:
                assert "commit not recorded" in p, f"README passage quoting {f.name} must say 'commit not recorded':\n{p}"; continue
            for c in {r["commit"][:7] for r in g}: assert c in p, f"README passage quoting {f.name} lacks commit {c}:\n{p}"
            if any(r["dirty"] for r in g): assert "uncommitted changes" in p, f"{f.name} was made on a dirty tree; README must say so:\n{p}"
            if any(r["dirty"] is None for r in g): assert "dirty flag not recorded" in p, f"{f.name} has no dirty flag; README must say so:\n{p}"
    assert {"reproduce.json"} <= checked, checked  # the bench results are quoted on the measurements page (tests/test_docs.py)


def test_report_results_made_before_provenance():
    "REPORT, NOT FAIL: committed result files written before full provenance (commit + dirty flag + config) was recorded; regenerate them."
    old = [f.relative_to(ROOT).as_posix() for f in RESULTS
           if "provenance" not in json.loads(f.read_text()) and not all(r["dirty"] is not None for r in recorded_git(json.loads(f.read_text())) or [{"dirty": None}])]
    if old: warnings.warn(f"results made before provenance was recorded (to regenerate): {', '.join(old)}")
