"""Write README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which cannot be installed here).

Usage: python tools/readme.py          # rewrite README.md
       python tools/readme.py --check  # exit 1 when README.md is out of date
"""
import contextlib, io, re, sys
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the notebook's cells import this checkout's cde
EXEC = "# README: exec"  # a code cell holding this line is run, and what it prints goes into the README

INCLUDE = re.compile(r"\{\{< include (\S+) >\}\}")  # Quarto's include shortcode, path relative to nbs/

def expand(text: str) -> str:
    "Replace each Quarto `{{< include PATH >}}` by the file's text, as the docs site shows it."
    return INCLUDE.sub(lambda m: (ROOT/"nbs"/m.group(1)).read_text().strip(), text)

def readme_text(cell, ns: dict) -> str:
    "What a cell puts in the README: a markdown cell its text; a code cell its `# README: ` lines (e.g. the markdown image of the figure it displays on the docs page) and, when it holds `# README: exec`, what it prints when run (in `ns`, shared by the cells run)."
    if cell.cell_type == "markdown": return cell.source.strip()
    lines = cell.source.splitlines()
    out = ["\n".join(l[len("# README:"):].removeprefix(" ") for l in lines if l.startswith("# README:") and l.strip() != EXEC)]
    if EXEC in map(str.strip, lines):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf): exec(compile(cell.source, "nbs/index.ipynb", "exec"), ns)
        out.append(buf.getvalue().strip())
    return "\n\n".join(o.strip() for o in out if o.strip())

def render() -> str:
    "README text: the markdown cells of nbs/index.ipynb (and the `# README:` lines of its code cells), one blank line between cells, Quarto includes expanded."
    nb = nbformat.read(ROOT/"nbs"/"index.ipynb", as_version=4)
    ns = {"__name__": "readme"}
    body = expand("\n\n".join(t for t in (readme_text(c, ns) for c in nb.cells) if t))
    return "<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file -->\n\n" + body.strip() + "\n"

if __name__ == "__main__":
    text, readme = render(), ROOT/"README.md"
    if "--check" in sys.argv:
        ok = readme.exists() and readme.read_text() == text
        print("README.md is up to date" if ok else "README.md is out of date: run python tools/readme.py")
        sys.exit(0 if ok else 1)
    readme.write_text(text); print(f"wrote {readme}")
