"""Where the tests find real data, and how a test says it needs the larger real crop sets.

Everything here runs on the embedded `sample` (CC0 DSB2018 nuclei inside the package) or the CC0 fixtures in
tests/fixtures. Tests that need the larger real crop sets of every domain (blood, colon, BCCD, the native
layouts of non-CC0 sources) are marked `@pytest.mark.shared`: they skip with one stated reason where
CDE_SHARED_DATA (or a shared/data folder beside the checkout) is absent, and fail instead of skipping when
CDE_REQUIRE_SHARED=1.
"""
from pathlib import Path
from cde.config import shared_data

FIXTURES = Path(__file__).resolve().parent/"fixtures"
DSB2018_FIXTURE = FIXTURES/"dsb2018"          # three CC0 DSB2018 fields: stage1_train/<id>/{images,masks}
SHARED_OR_NONE = shared_data(required=False)
SHARED = SHARED_OR_NONE or Path("real-crop-sets-not-found")  # only used by tests marked `shared`
RAW = SHARED/"raw"
REASON = ("needs the real crop sets: set CDE_SHARED_DATA=DIR, a folder with <domain>/dev/<class>/*.png and "
          "<domain>/meta.csv for nuclei, blood, blood_bccd and colon, and raw/ source files")


def need_shared():
    "Skip the calling test (fail it when CDE_REQUIRE_SHARED=1) where the real crop sets are absent."
    import pytest
    from cde.config import require_shared
    if SHARED_OR_NONE is None:
        if require_shared(): pytest.fail(f"CDE_REQUIRE_SHARED is set but this test {REASON}")
        pytest.skip(REASON)
