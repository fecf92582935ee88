"Gate for tests that need the real crop sets (marker `shared`), and a count of those skipped at the end."
import json, os
import pytest

# selenium (the `lab` extra) brings trio, whose `hypothesis` entry point fails to load in some trio releases; where
# hypothesis is installed too, its pytest plugin then crashes the session at its end. This suite uses no hypothesis plugins.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
from realdata import REASON, need_shared


def pytest_configure(config):
    config.addinivalue_line("markers", f"shared: {REASON}")


@pytest.fixture(autouse=True)
def _shared_gate(request):
    "Skip (or, with CDE_REQUIRE_SHARED=1, fail) a `shared` test when the real crop sets are absent."
    if request.node.get_closest_marker("shared"): need_shared()


def pytest_terminal_summary(terminalreporter):
    "Name and count the tests skipped for lack of the real crop sets (also written to $CDE_SKIP_REPORT)."
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if REASON in str(r.longrepr)]
    names = sorted({r.nodeid.split("[")[0] for r in skipped})
    if skipped:
        terminalreporter.write_sep("-", f"{len(skipped)} tests skipped, each because it {REASON}")
        for n in names: terminalreporter.write_line(f"  {n}")
    if os.environ.get("CDE_SKIP_REPORT"):
        with open(os.environ["CDE_SKIP_REPORT"], "w") as f: json.dump({"skipped": len(skipped), "tests": names}, f)
