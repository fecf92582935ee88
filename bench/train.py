"""Training speed of the paper's DCGAN and the CDE model at 64 px on this machine: images/s and peak memory.

Each measurement is one `cde.train.train` run (the real loop: augmentation, EMA, logging, checkpoints) with a
wall-clock budget, in its own process so peak memory (ru_maxrss) is that run's. images/s = steps × batch / budget.

Usage: python bench/train.py [--data ../shared/data/blood/dev] [--budget 60] [--threads 1 2] [--batch 64] [--device cpu]
Prints a table and writes bench/results/train.json (with the git commit, dirty flag and arguments), including the
cde/dcgan speed ratio (issue 3 requires >= 0.5).
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]

def one(a):
    "Child process: one timed training run; prints a JSON line."
    import torch
    from cde.train import train
    a.threads = a.threads[0]
    from cde.config import load_json
    torch.set_num_threads(a.threads)
    out = Path(tempfile.mkdtemp())/"run"
    cfg = {"dataset": "folder", "data_dir": a.data, "size": 64, "model": a.one, "strategy": "conditional", "profile": "quick",
           "device": a.device, "batch_size": a.batch, "time_budget_s": a.budget, "num_threads": a.threads,
           "ckpt_every": 10**6, "sample_every": 10**6}
    t = time.perf_counter(); train(cfg, out, progress=False); wall = time.perf_counter() - t
    steps = load_json(out/"status.json")["steps"]["all"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    r = {"model": a.one, "threads": a.threads, "batch": a.batch, "budget_s": a.budget, "steps": steps,
         "images_per_s": round(steps * a.batch / a.budget, 1), "wall_s": round(wall, 1), "peak_rss_mb": round(peak_mb),
         "load_avg_1min_after": round(os.getloadavg()[0], 2)}
    if torch.cuda.is_available() and a.device != "cpu": r["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print("RESULT " + json.dumps(r))

def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent/"shared"/"data"/"blood"/"dev"), help="a root/<class>/*.png tree (RGB blood crops by default)")
    p.add_argument("--budget", type=float, default=60.0, help="seconds of training per measurement")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch", type=int, default=64, help="64 = the batch of the paper-DCGAN speed quoted in DESIGN.md")
    p.add_argument("--device", default="cpu")
    p.add_argument("--one", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        one(a); return
    if not Path(a.data).is_dir(): sys.exit(f"data folder {a.data} not found: pass --data ROOT/<class>/*.png")
    from cde.config import save_json, environment_info, provenance
    rows, prov = [], provenance(vars(a), ROOT)  # the code as it is when the run starts
    for th in a.threads:
        for m in ("dcgan", "cde"):
            cmd = [sys.executable, __file__, "--one", m, "--threads", str(th), "--data", a.data, "--budget", str(a.budget),
                   "--batch", str(a.batch), "--device", a.device]
            r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(th)})
            line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
            if r.returncode or not line: sys.exit(f"{m} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
            rows.append(json.loads(line[0][7:])); print(rows[-1], flush=True)
    ratio = {th: round(next(r["images_per_s"] for r in rows if r["model"] == "cde" and r["threads"] == th) /
                       next(r["images_per_s"] for r in rows if r["model"] == "dcgan" and r["threads"] == th), 2) for th in a.threads}
    res = {"what": "GAN training images/s at 64 px (3 channels), one conditional GAN, real loop incl. augmentation and EMA",
           "rows": rows, "cde_over_dcgan_speed": ratio, "requirement": "cde >= 0.5 x dcgan",
           "meets_requirement": all(v >= 0.5 for v in ratio.values()),
           "note": "CPU shared with other jobs; compare rows measured in the same call only",
           "load_avg_at_end": os.getloadavg(), "environment": environment_info(a.device), "provenance": prov}
    print(f"\n{'model':6} {'threads':>7} {'img/s':>7} {'peak MB':>8}")
    for r in rows: print(f"{r['model']:6} {r['threads']:>7} {r['images_per_s']:>7} {r['peak_rss_mb']:>8}")
    print(f"cde / dcgan speed: {ratio}")
    save_json(res, ROOT/"bench"/"results"/"train.json")

if __name__ == "__main__":
    main()
