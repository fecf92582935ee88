"""Run every test: the notebook tests (`nbdev_test`), then `tests/` (`pytest`), and say what was skipped.

Usage: python tools/test.py [extra pytest arguments]

Notebook cells flagged `shared` and pytest tests marked `shared` need the larger real crop sets of every
domain (`CDE_SHARED_DATA`, or a `shared/data` folder beside the checkout). Where those are absent they are
skipped, and this script names and counts them at the end; everything else runs on the data embedded in the
package and the CC0 fixtures in tests/fixtures. With CDE_REQUIRE_SHARED=1 a missing folder is an error.
"""
import json, os, re, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def flagged_cells(flag: str = "shared") -> dict:
    "Notebook → number of code cells carrying the nbdev directive `#| <flag>`, for notebooks nbdev_test runs."
    import nbformat
    out = {}
    for p in sorted((ROOT/"nbs").glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        front = nb.cells[0].source if nb.cells and nb.cells[0].cell_type == "raw" else ""
        if "skip_exec: true" in front: continue
        n = sum(c.cell_type == "code" and bool(re.search(rf"^#\|\s*{flag}\s*$", c.source, re.M)) for c in nb.cells)
        if n: out[p.name] = n
    return out

def main() -> int:
    from cde.config import shared_data, require_shared
    shared = shared_data(required=False)
    if shared is None and require_shared():
        print("CDE_REQUIRE_SHARED is set but the real crop sets were not found: set CDE_SHARED_DATA=DIR", file=sys.stderr)
        return 1
    print(f"real crop sets: {shared or 'not found (set CDE_SHARED_DATA=DIR to run the tests that need them)'}", flush=True)
    t0, rc = time.time(), 0
    nb_cmd = ["nbdev_test"] + (["--flags", "shared"] if shared else [])
    print("$", " ".join(nb_cmd), flush=True)
    rc = subprocess.run(nb_cmd, cwd=ROOT).returncode
    print(f"nbdev_test: exit {rc} in {time.time() - t0:.0f} s", flush=True)
    report = Path(tempfile.mkdtemp())/"skips.json"
    py_cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "tests", *sys.argv[1:]]
    print("$", " ".join(py_cmd[1:]), flush=True)
    t1 = time.time()
    prc = subprocess.run(py_cmd, cwd=ROOT, env={**os.environ, "CDE_SKIP_REPORT": str(report)}).returncode
    print(f"pytest: exit {prc} in {time.time() - t1:.0f} s", flush=True)
    skipped_py = json.loads(report.read_text()) if report.exists() else {"skipped": 0, "tests": []}
    cells = {} if shared else flagged_cells()
    print("=" * 100)
    if shared: print("real crop sets present: every notebook cell and test that needs them ran")
    else:
        print(f"skipped for lack of the real crop sets: {sum(cells.values())} notebook cells in {len(cells)} notebooks "
              f"({', '.join(f'{k} {v}' for k, v in cells.items())}) and {skipped_py['skipped']} pytest tests "
              f"({len(skipped_py['tests'])} test functions, listed above)")
    if shared and skipped_py["skipped"]:
        print(f"error: {skipped_py['skipped']} tests skipped for lack of real data although it is present", file=sys.stderr)
        prc = prc or 1
    print(f"total {time.time() - t0:.0f} s")
    return rc or prc

if __name__ == "__main__":
    sys.exit(main())
