"`cde train` config files (--config, --print-config) and mixed precision (--precision): issue #14 items 2 and 4."
import contextlib, io, json
from pathlib import Path
import pytest

from test_train import blood, base  # noqa: F401  (the module fixture of real blood crops)
from cde.run import CONFIG_KEYS
from cde.train import train
from cde.cli import cli_train, train_parser


def run_cli(argv):
    "cli_train's exit code, stdout and stderr."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = cli_train(argv)
    return rc, out.getvalue(), err.getvalue()


def printed(argv) -> dict:
    "The config `--print-config` resolves for `argv`."
    rc, out, err = run_cli([*argv, "--print-config"])
    assert rc == 0, err
    return json.loads(out)


def test_run_config_round_trips_through_print_config(blood, tmp_path):
    run = train(base(blood, model="dcgan", classes="cancer"), tmp_path/"run", progress=False)
    saved = json.loads((run/"config.json").read_text())
    before = sorted(tmp_path.rglob("*"))
    got = printed(["--config", str(run/"config.json")])
    assert {k: got[k] for k in CONFIG_KEYS} == {k: saved[k] for k in CONFIG_KEYS}
    assert "effective_strategy" in saved and got["classes"] == ["cancer"] and got["profile"] == "smoke"
    resumed = printed(["--out", str(run), "--resume"])  # the frozen config that --resume would use
    assert {k: resumed[k] for k in CONFIG_KEYS} == {k: saved[k] for k in CONFIG_KEYS}
    assert sorted(tmp_path.rglob("*")) == before  # nothing read into or written to any run folder
    env = json.loads((run/"environment.json").read_text())
    assert env["precision"] == {"asked": None, "amp": True, "used": "no"}  # CPU: no CUDA mixed precision


def test_flags_override_the_file(tmp_path):
    f = tmp_path/"c.yaml"; f.write_text("dataset: folder\nprofile: smoke\nseed: 3\nlr_g: 1e-3\nprecision: bf16\n")
    got = printed(["--config", str(f)])
    assert (got["seed"], got["lr_g"], got["precision"], got["epochs"]) == (3, 1e-3, "bf16", 3)
    got = printed(["--config", str(f), "--seed", "7", "--set", "lr_g=5e-4", "--precision", "fp16", "--set", "epochs=9"])
    assert (got["seed"], got["lr_g"], got["precision"], got["epochs"]) == (7, 5e-4, "fp16", 9)


def test_yaml_exponent_is_a_float(tmp_path):
    f = tmp_path/"c.yaml"; f.write_text("dataset: folder\nlr_g: 2e-4\nlr_d: 4E-4\n")
    got = printed(["--config", str(f)])
    assert (got["lr_g"], got["lr_d"]) == (2e-4, 4e-4) and type(got["lr_g"]) is float


@pytest.mark.parametrize("text,msg", [
    ("dataset: folder\nlearning_rate: 0.1\n", "'learning_rate'"),
    ("dataset: folder\nprecision: fp8\n", "precision: unknown 'fp8'"),
    ("dataset: folder\nbatch_size: 0\n", "batch_size: must be an integer"),
])
def test_bad_file_fails_naming_the_key(tmp_path, text, msg):
    f = tmp_path/"c.yaml"; f.write_text(text)
    for extra in (["--print-config"], ["--out", str(tmp_path/"run")]):
        rc, _, err = run_cli(["--config", str(f), *extra])
        assert rc == 2 and msg in err, err
    assert not (tmp_path/"run").exists()


def test_out_required_unless_print_config(tmp_path):
    for argv in (["--dataset", "folder"], ["--resume", "--print-config"]):
        rc, _, err = run_cli(argv)
        assert rc == 2 and "--out: required" in err
    assert printed(["--dataset", "folder", "--profile", "smoke"])["profile"] == "smoke"
    rc, _, err = run_cli(["--config", str(tmp_path/"missing.yaml"), "--print-config"])
    assert rc == 2 and "no such file" in err


def test_precision_flag_parses():
    assert train_parser().parse_args(["--precision", "bf16"]).precision == "bf16"
    assert train_parser().parse_args([]).precision is None
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        train_parser().parse_args(["--precision", "fp8"])
    assert printed(["--dataset", "folder", "--precision", "no"])["precision"] == "no"
    assert printed(["--dataset", "folder"])["precision"] is None


def test_log_with_tensorboard_writes_events(tmp_path):
    "A smoke run with `--log-with tensorboard` writes a TensorBoard event file with the losses, D's scores and the sample grids; losses.csv stays."
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (it is in the dev extra)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    rc, out, err = run_cli(["--dataset", "sample", "--profile", "smoke", "--out", str(tmp_path/"run"), "--log-with", "tensorboard", "--no-progress"])
    assert rc == 0, err
    events = sorted((tmp_path/"run"/"logs").rglob("events.out.tfevents.*"))
    assert events, sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    tags = {}
    for e in events:
        acc = EventAccumulator(str(e)); acc.Reload()
        for kind, names in acc.Tags().items():
            if isinstance(names, list): tags.setdefault(kind, set()).update(names)
    unit = json.loads((tmp_path/"run"/"status.json").read_text())["units"][0]
    assert {f"{unit}/{c}" for c in ("loss_G", "loss_D", "D_real", "D_fake")} <= tags["scalars"], tags
    assert f"{unit}/samples" in tags["images"], tags
    steps = [ev.step for e in events for ev in EventAccumulator(str(e)).Reload().Scalars(f"{unit}/loss_G")] if len(events) == 1 else None
    lines = (tmp_path/"run"/"losses.csv").read_text().splitlines()
    assert steps is None or len(steps) == sum(1 for l in lines[1:] if l.split(",")[1] == "step")
    assert json.loads((tmp_path/"run"/"config.json").read_text())["log_with"] == ["tensorboard"]


def test_log_with_unknown_tracker_fails_before_work(tmp_path):
    rc, _, err = run_cli(["--dataset", "sample", "--profile", "smoke", "--out", str(tmp_path/"run"), "--log-with", "tensorbord"])
    assert rc == 2 and "log_with: unknown tensorbord; allowed:" in err and not (tmp_path/"run").exists()
