"Committed results (figures/, bench/results/, README.md) must not carry an absolute path of the machine that made them."
import re, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["figures", "bench/results", "README.md"]
# an absolute path of a machine: /work/..., /root/..., /home/<user>/..., /tmp/..., /Users/..., C:\Users\...
# (not preceded by a path or word character, so `../shared/data` or `runs/tmp/x` do not match)
ABS_PATH = re.compile(r"(?<![\w.~/-])(?:/work/|/root/|/home/[^/\s\"'`]+/|/tmp/|/Users/)|\b[A-Za-z]:(?:\\\\?|/)Users\b")


def tracked_files() -> list:
    r = subprocess.run(["git", "ls-files", "-z", "--", *CHECKED], cwd=ROOT, capture_output=True)
    if r.returncode != 0: pytest.skip("not a git checkout")
    return [ROOT/p for p in r.stdout.decode().split("\0") if p and (ROOT/p).is_file()]


def hits(text: str) -> list:
    "(line number, line) of every line of `text` that holds an absolute machine path."
    return [(i, line.strip()[:200]) for i, line in enumerate(text.splitlines(), 1) if ABS_PATH.search(line)]


def test_pattern():
    for bad in ["/work/main/runs/x", '"data_root": "/root/lead/data"', "see /home/ann/data", "at /tmp/x.png",
                "/Users/ann/x", r"C:\Users\ann", r"C:\\Users\\ann"]:
        assert hits(bad), bad
    for ok in ["../shared/data/<domain>/dev", "runs/tmp/x", "$CDE_SHARED_DATA/nuclei/dev", "<runs>/nuclei_cde", ".../nuclei/dev",
               "https://example.org/work/x", "a/home/b/c"]:
        assert not hits(ok), ok


def test_no_absolute_paths_in_committed_results():
    bad = []
    for p in tracked_files():
        data = p.read_bytes()
        if b"\0" in data[:8192]: continue  # binary (figures as PNG): their text is drawn, not stored
        bad += [f"{p.relative_to(ROOT)}:{i}: {line}" for i, line in hits(data.decode("utf-8", "replace"))]
    assert not bad, "absolute paths of a machine in committed files:\n" + "\n".join(bad)
