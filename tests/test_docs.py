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


# ---- the README and the measurements page quote no hand-typed result (issue 24) ----
import json, re, sys
sys.path.insert(0, str(ROOT/"tools"))
import results as R  # noqa: E402

MAX_README_LINES = 125  # the issue asks for about 120
FIGURE_SOURCES = [ROOT/"figures"/f for f in ("fid_table.csv", "table1.csv", "table1.md", "reproduce.json", "table_seg.csv", "table_seg.md")
                  if (ROOT/"figures"/f).exists()]


def sections(md: str) -> dict:
    "`{heading: text}` of a Markdown document's `## ` sections (the part before the first one under '')."
    parts = re.split(r"^## (.+)$", md, flags=re.M)
    return {"": parts[0], **{parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}}


def test_readme_is_short():
    n = len((ROOT/"README.md").read_text().splitlines())
    assert n <= MAX_README_LINES, f"README.md has {n} lines; the front page stays at about 120 (details go to the docs pages)"


def test_number_check_catches_a_typed_number(tmp_path):
    "The checker itself: a number that is not in the file (at the precision shown) is reported; roundings, dates, percent pass."
    f = tmp_path/"r.json"; f.write_text(json.dumps({"fid": 157.0312, "p": 0.5123, "made_utc": "2026-11-30T15:00:50Z"}))
    assert R.unquoted("FID 157.0 and 157.03 (p 51.2 %), 2026-11-30, `abc1234` and [x](fig2.png)", [f]) == []
    assert R.unquoted("FID 157.1 and 3.4× faster", [f]) == ["157.1", "3.4"]


def test_readme_results_are_read_from_their_files():
    "Every number in the README's Results section is in the figures' result files; elsewhere no decimal number (a typed result) appears."
    sec = sections((ROOT/"README.md").read_text())
    assert "Results" in sec, "the README has a Results section"
    assert R.unquoted(sec["Results"], FIGURE_SOURCES) == []
    assert R.fid_compact(ROOT) in sec["Results"] and R.table1_compact(ROOT) in sec["Results"]  # generated, not pasted
    assert (R.seg_compact(ROOT) or "") in sec["Results"]
    results_files = FIGURE_SOURCES + R.bench_files(ROOT)
    for name, text in sec.items():
        if name == "Results": continue
        typed = [n for n in R.prose_numbers(text) if "." in n]
        assert R.unquoted(" ".join(typed), results_files) == [], f"README section {name!r} quotes numbers not read from a results file: {typed}"


def test_measurements_page_numbers_match_their_json():
    "Each section of the measurements page (nbs/bench.ipynb) prints only numbers its JSON file holds, with the file's commit(s)."
    files = R.bench_files(ROOT)
    assert {f.stem for f in files} >= {"quality", "metrics", "fid_budget", "train", "cli_help"}
    for f in files:
        md = R.bench_section(f)
        assert R.unquoted(md, [f]) == [], f"{f.name}: numbers on the page that the file does not hold"
        assert "**Conditions:**" in md and f"bench/results/{f.name}" in md
        for g in R.recorded_git(json.loads(f.read_text())): assert g["commit"][:7] in md, (f.name, g["commit"])


def test_docs_pages_prose_types_no_result():
    "The prose of the measurements page holds no number; the guide's and the index's prose no decimal number (results come from files)."
    import nbformat
    for name, rule in (("bench", lambda n: True), ("guide", lambda n: "." in n), ("index", lambda n: "." in n)):
        nb = nbformat.read(ROOT/"nbs"/f"{name}.ipynb", as_version=4)
        prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert [n for n in R.prose_numbers(prose) if rule(n)] == [], f"nbs/{name}.ipynb prose types numbers"
    bench = nbformat.read(ROOT/"nbs"/"bench.ipynb", as_version=4)
    assert any("R.bench_files(REPO)" in c.source for c in bench.cells), "the page renders every file of bench/results/"


def test_measurements_page_takes_new_rows_and_keys(tmp_path):
    "A quality file with a new variant, a `c2st` measure and curve points renders them without a change to the page."
    row = json.loads((ROOT/"bench"/"results"/"quality.json").read_text())["rows"][0]
    new = {**row, "variant": "cde_new", "c2st": {"auroc": 0.9731, "n": 800},
           "curve": [{"images_seen": 10000, "fid": 201.25, "c2st_auroc": 0.99}]}
    f = tmp_path/"quality_next.json"
    f.write_text(json.dumps({"what": "x", "rows": [row, new], "provenance": {"git": {"commit": "f" * 40, "dirty": True}}}))
    md = R.bench_section(f)
    assert "cde_new" in md and "c2st auroc" in md and "0.973" in md and "201.25" in md and "uncommitted changes" in md
    assert R.unquoted(md, [f]) == []


def test_segmentation_summary_reads_its_table(tmp_path):
    "The README's segmentation part is read from a `write_seg_tables` output: every number it prints is in table_seg.csv / .md."
    from cde.segment import write_seg_tables
    iv = lambda v: {"value": v, "lo": v - 0.01, "hi": v + 0.01, "sd": 0.002, "seeds": 3, "n": 40, "unit": "source"}
    arms = [("trtr", 0.9061), ("few_real", 0.8912), ("tstr", 0.8843)]
    res = {"summary": [{"arm": a, "n_train": 400, "n_test": 40, "seeds": [0, 1, 2], "dice": iv(d), "iou": iv(d - 0.07),
                        "instance_ap": iv(d - 0.43)} for a, d in arms],
           "claims": [], "mask_fit": None, "config": {"max_steps": 600}, "few_fraction": 0.1}
    assert R.seg_compact(tmp_path) is None  # no table: the README says nothing
    write_seg_tables(res, tmp_path/"figures")
    md = R.seg_compact(tmp_path)
    assert "| arm | trtr | few_real | tstr |" in md and "88.4 (87.4–89.4)" in md and "0.98 × the Dice" in md
    assert R.unquoted(md, [tmp_path/"figures"/"table_seg.csv", tmp_path/"figures"/"table_seg.md"]) == []
