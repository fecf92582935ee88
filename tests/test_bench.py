"""The benchmark scripts' own small pieces (the benchmarks themselves run outside the test suite)."""
import sys
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/"bench"))
from quality import parse_variant, scrub  # noqa: E402

def test_parse_variant_reads_numbers_booleans_and_presets():
    assert parse_variant("cde") == ("cde", {"model": "cde"})
    name, cfg = parse_variant("fast=cde:lr_g=2e-4,batch_size=16,spectral_norm=false,loss=rpgan,ada_target=0.6")
    assert name == "fast" and cfg == {"model": "cde", "lr_g": 2e-4, "batch_size": 16, "spectral_norm": False,
                                      "loss": "rpgan", "ada_target": 0.6}
    assert isinstance(cfg["lr_g"], float) and isinstance(cfg["batch_size"], int)

def test_parse_variant_rejects_a_pair_without_value():
    with pytest.raises(SystemExit, match="expected key=value"): parse_variant("x=cde:lr_g")

def test_variant_values_reach_a_checked_config():
    from cde.train import resolve_config
    _, over = parse_variant("x=cde:lr_g=2e-4,lr_d=4e-4")
    cfg = resolve_config({**over, "dataset": "sample", "profile": "smoke", "device": "cpu"})
    assert cfg["lr_g"] == 2e-4 and cfg["lr_d"] == 4e-4
    with pytest.raises(ValueError, match="lr_g: must be a number > 0"): resolve_config({"dataset": "sample", "lr_g": "fast", "profile": "smoke", "device": "cpu"})

def test_scrub_removes_machine_paths(tmp_path):
    row = {"run_dir": str(tmp_path/"runs"/"a"), "cfg": {"data_dir": str(tmp_path/"data"/"nuclei")}}
    out = scrub(row, tmp_path/"data", tmp_path/"runs")
    assert out == {"run_dir": "<runs>/a", "cfg": {"data_dir": "$CDE_SHARED_DATA/nuclei"}}
