"GAN engine tests beyond the notebook: every model × strategy, SIGKILL-and-resume equality, bad input, safe loading."
import csv, hashlib, os, pickle, signal, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np
import pytest
import torch

from realdata import SHARED, need_shared
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

def make_subset(root: Path, domain: str = "blood", per_class: int = 40) -> Path:
    "A small class tree of real blood crops (symlinks into the real crop sets) with its meta.csv, whole source fields first."
    need_shared()
    src = SHARED/domain
    rows = list(csv.DictReader(open(src/"meta.csv", newline="")))
    out, keep = root/domain, []
    for c in sorted({r["class"] for r in rows}):
        keep += sorted((r for r in rows if r["class"] == c), key=lambda r: (r["source_image"], r["file"]))[:per_class]
    for r in keep:
        p = out/r["file"]; p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists(): p.symlink_to(src/r["file"])
    with open(out/"meta.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["file", "source_image"]); w.writeheader()
        w.writerows({"file": r["file"], "source_image": r["source_image"]} for r in keep)
    return out/"dev"

@pytest.fixture(scope="module")
def blood(tmp_path_factory):
    return make_subset(tmp_path_factory.mktemp("data"))

def base(data_dir, **kw):
    return {"dataset": "folder", "data_dir": str(data_dir), "size": 32, "profile": "smoke", "device": "cpu", **kw}

def weights(run):
    "Every tensor of a finished run's unit files."
    from safetensors.torch import load_file
    return {f"{p.stem}.{k}": v for p in sorted((Path(run)/"models").glob("*.safetensors")) for k, v in load_file(p).items()}

def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa and sorted(wa) == sorted(wb)
    return all(torch.equal(wa[k], wb[k]) for k in wa)

@pytest.mark.parametrize("model", ["dcgan", "cde"])
@pytest.mark.parametrize("strategy", ["per_class", "conditional"])
def test_smoke_model_strategy(blood, tmp_path, model, strategy):
    from cde.train import train
    from cde.run import generate, discriminator_scores, load_run_data, read_losses
    from cde.config import load_json
    run = train(base(blood, model=model, strategy=strategy), tmp_path/"run", progress=False)
    cfg = load_json(run/"config.json")
    assert (cfg["model"], cfg["effective_strategy"], cfg["classes"]) == (model, strategy, ["cancer", "normal"])
    units = {"per_class": ["cancer", "normal"], "conditional": ["all"]}[strategy]
    assert sorted(p.stem for p in (run/"models").glob("*.safetensors")) == units
    assert (cfg["ema"] > 0) == (model == "cde")
    losses = read_losses(run)
    ada = ["aug_p"] if cfg["ada_target"] is not None else []  # cde: adaptive augmentation logs its p
    assert (cfg["ada_target"] is not None) == (model == "cde")
    assert list(losses.columns) == ["unit", "kind", "epoch", "step", "g_loss", "d_loss", "d_real", "d_fake"] + ada
    assert losses[ada].stack().between(0, 1).all()
    assert set(losses.unit) == set(units) and (losses.kind == "epoch").sum() == 3 * len(units)
    assert np.isfinite(losses[["g_loss", "d_loss"]].to_numpy()).all()
    assert len(list((run/"samples").glob("*.png"))) == 3 * len(units)
    assert len(list((run/"checkpoints").glob("*.pt"))) in (1, 2, 3)  # keep last K = 3
    data = load_json(run/"data.json")
    assert set(data["sources"]["train"]).isdisjoint(data["sources"]["test"])
    s = generate(run, 12, seed=3)
    assert s.images.shape == (12, 32, 32, 3) and min(s.counts().values()) >= 4  # split by training counts
    assert np.array_equal(generate(run, 12, seed=3).images, s.images)
    test = load_run_data(run, "test")
    sc = discriminator_scores(run, test.images, test.labels)
    assert sc.shape == (len(test),) and np.isfinite(sc).all()

def cde_train(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "cde.cli", "train", *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

def test_sigkill_and_resume_gives_identical_weights(blood, tmp_path):
    args = ["--dataset", "folder", "--data-dir", blood, "--size", 32, "--profile", "smoke", "--model", "cde", "--seed", 7,
            "--device", "cpu", "--set", "epochs=8", "--no-progress"]
    ref = cde_train(*args, "--out", tmp_path/"ref"); out, _ = ref.communicate(timeout=900)
    assert ref.returncode == 0, out
    run = tmp_path/"killed"
    p = cde_train(*args, "--out", run)
    t0 = time.time()
    while not list((run/"checkpoints").glob("*.pt.sha256")) and p.poll() is None and time.time() - t0 < 600: time.sleep(0.01)
    assert p.poll() is None, "the run ended before it could be killed: raise epochs in this test"
    p.send_signal(signal.SIGKILL); p.wait()
    assert not (run/"status.json").exists()
    with pytest.raises(AssertionError): same_weights(tmp_path/"ref", run)  # nothing final to compare yet
    r = cde_train(*args, "--out", run, "--resume"); out, _ = r.communicate(timeout=900)
    assert r.returncode == 0 and "resuming" in out, out
    assert same_weights(tmp_path/"ref", run)
    assert (tmp_path/"ref"/"losses.csv").read_text() == (run/"losses.csv").read_text()

def test_corrupt_checkpoint_falls_back_with_warning(blood, tmp_path):
    from cde.train import train, list_checkpoints
    cfg = base(blood, model="cde", strategy="conditional", seed=1)
    ref = train(cfg, tmp_path/"ref", progress=False)
    run = train(cfg, tmp_path/"run", progress=False)
    newest = list_checkpoints(run)[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated, hash no longer matches
    with pytest.warns(UserWarning, match="hash mismatch.*falling back"):
        train(None, run, resume=True, progress=False)
    assert same_weights(ref, run)  # resumed from the previous checkpoint and reached the same end

@pytest.mark.parametrize("recipe", [dict(lecam=0.3), dict(g_arch="fastgan", d_arch="fastgan", recon=1.0, lecam=0.3)])
def test_resume_restores_lecam_and_reconstruction_state(blood, tmp_path, recipe):
    "LeCam's running means and the torch RNG that picks FastGAN's reconstructed quarter are checkpointed: a resumed run ends bit-identical."
    from cde.train import train, list_checkpoints, load_checkpoint
    cfg = base(blood, model="cde", classes="normal", seed=2, **recipe)
    ref = train(cfg, tmp_path/"ref", progress=False)
    run = train(cfg, tmp_path/"run", progress=False)
    assert "lecam" in load_checkpoint(list_checkpoints(run)[-1])
    newest = list_checkpoints(run)[-1]
    newest.write_bytes(newest.read_bytes()[:100])  # resume from the checkpoint before it
    with pytest.warns(UserWarning, match="falling back"): train(None, run, resume=True, progress=False)
    assert same_weights(ref, run)

def test_malicious_pickle_checkpoint_is_refused(blood, tmp_path):
    from cde.train import train, load_checkpoint, latest_checkpoint
    from cde.run import CheckpointError
    run = train(base(blood, model="dcgan", classes="normal"), tmp_path/"run", progress=False)
    marker = tmp_path/"pwned"
    class Evil:
        def __reduce__(self): return (os.system, (f"touch {marker}",))
    bad = run/"checkpoints"/"ckpt_u99_s999999999.pt"  # sorts last: it would be the one resumed from
    bad.write_bytes(pickle.dumps({"unit": Evil()}))
    Path(str(bad) + ".sha256").write_text(hashlib.sha256(bad.read_bytes()).hexdigest())  # the attacker also forges the hash
    with pytest.raises(CheckpointError, match="refused"): load_checkpoint(bad)
    with pytest.warns(UserWarning, match="refused"): path, _ = latest_checkpoint(run)
    assert path != bad and not marker.exists()
    # the same payload as a torch.save file is refused too
    torch.save({"unit": Evil()}, bad); Path(str(bad) + ".sha256").write_text(hashlib.sha256(bad.read_bytes()).hexdigest())
    with pytest.raises(CheckpointError, match="refused"): load_checkpoint(bad)
    assert not marker.exists()

@pytest.mark.parametrize("extra, msg", [
    (["--set", "learning_rate=0.1"], "'learning_rate'; allowed keys:"),
    (["--set", "size=48"], "allowed: 32, 64, 128"),
    (["--set", "batch_size=500"], "batch_size: 500"),
    (["--classes", "cancer,platelets"], "allowed: cancer, normal"),
    (["--set", "augment=rotate"], "allowed: color, intensity, translation, cutout"),
])
def test_bad_input_fails_before_training(blood, tmp_path, extra, msg):
    from cde.cli import cli_train
    import io, contextlib
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli_train(["--dataset", "folder", "--data-dir", str(blood), "--size", "32", "--profile", "smoke",
                        "--out", str(tmp_path/"run"), "--no-progress", *extra])
    assert rc == 2 and msg in err.getvalue(), err.getvalue()
    assert not (tmp_path/"run").exists()  # nothing written

def test_existing_out_needs_resume_and_generate_cli_is_reproducible(blood, tmp_path):
    from cde.train import train
    from cde.cli import cli_train, cli_generate
    run = train(base(blood, model="cde", classes="cancer"), tmp_path/"run", progress=False)
    assert cli_train(["--dataset", "folder", "--data-dir", str(blood), "--out", str(run)]) == 2
    for d in ("a", "b"): assert cli_generate([str(run), "--n", "5", "--seed", "4", "--out", str(tmp_path/d)]) == 0
    fa, fb = sorted((tmp_path/"a").rglob("*.png")), sorted((tmp_path/"b").rglob("*.png"))
    assert [p.relative_to(tmp_path/"a") for p in fa] == [p.relative_to(tmp_path/"b") for p in fb]
    assert len(fa) == 5 and all(p.parent.name == "cancer" for p in fa)
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(fa, fb))
    assert cli_generate([str(run), "--n", "5", "--class", "normal", "--out", str(tmp_path/"c")]) == 2

def test_grayscale_run_writes_grayscale_pngs(blood, tmp_path):
    from PIL import Image
    from cde.train import train
    from cde.cli import cli_generate
    from cde.config import load_json
    run = train(base(blood, model="cde", channels=1, classes="normal"), tmp_path/"run", progress=False)
    cfg = load_json(run/"config.json")
    assert (cfg["channels"], cfg["augment"], cfg["effective_strategy"]) == (1, "auto", "single")
    assert cli_generate([str(run), "--n", "3", "--out", str(tmp_path/"g")]) == 0
    ims = [Image.open(p) for p in sorted((tmp_path/"g"/"normal").glob("*.png"))]
    assert len(ims) == 3 and all(im.mode == "L" and im.size == (32, 32) for im in ims)
