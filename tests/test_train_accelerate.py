"The same training loop under Hugging Face Accelerate: 2 CPU processes (gloo, DDP) end with identical weights."
import json, os, subprocess, sys
from pathlib import Path
import pytest
from test_train import make_subset

def test_two_process_ddp_ranks_agree(tmp_path):
    pytest.importorskip("accelerate")
    data = make_subset(tmp_path/"data", per_class=40)
    run = tmp_path/"run"
    # `accelerate launch --cpu` alone starts one process (multi-CPU needs MPI); `--multi_gpu` selects the torchrun
    # launcher and `--device cpu` makes both processes train on the CPU over gloo.
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
           "-m", "cde.cli", "train", "--dataset", "folder", "--data-dir", str(data), "--size", "32", "--profile", "smoke",
           "--model", "cde", "--strategy", "conditional", "--device", "cpu", "--out", str(run), "--no-progress", "--set", "batch_size=4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    env_rec = json.loads((run/"environment.json").read_text())
    assert env_rec["num_processes"] == 2
    r0, r1 = (json.loads((run/"ddp"/f"all_rank{i}.json").read_text()) for i in (0, 1))
    assert set(r0) == {"G", "D", "G_ema"} and r0 == r1  # every parameter and buffer identical on both ranks
    ck = sorted((run/"checkpoints").glob("*.pt"))
    assert ck and (run/"models"/"all.safetensors").exists()
    steps = json.loads((run/"status.json").read_text())["steps"]["all"]
    n_train = json.loads((run/"data.json").read_text())["n"]["train"]
    assert steps == 3 * (n_train // (4 * 2))  # each step consumes 4 crops on each of the 2 processes
