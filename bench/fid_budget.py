"""Same wall-clock budget, two models: FID of the paper's DCGAN and of the CDE model against held-out real crops.

For each domain (nuclei, blood by default) and model (dcgan, cde): `cde train` with the quick profile (its
`time_budget_s`, 900 s per domain, split over the per-class GANs) at 64 px, then FID (clean-fid 'clean' mode,
`cde.metrics.compute_fid`) between `n` generated crops (EMA generator for cde; class mix = the training mix) and
the held-out 'test' part of the standard split, which the GAN never saw. Issue 3's target: cde FID <= dcgan / 2.

Usage: python bench/fid_budget.py [--budget 900] [--domains nuclei blood] [--n 1000] [--runs /tmp/cde_fid_budget]
       [--threads 1] [--seed 0]
About budget × 4 plus feature extraction on a 2-core CPU: run it in the background with a log file.
Writes bench/results/fid_budget.json (each row with the git commit and dirty flag of the invocation that measured it
and the run's resolved config), merging with the rows other invocations wrote (so one process per domain
can run side by side: `--domains nuclei` and `--domains blood`), and keeps the run directories under --runs for inspection.
"""
import argparse, json, os, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent/"shared"/"data"

def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--budget", type=float, default=None, help="seconds per domain and model (default: the quick profile's)")
    p.add_argument("--domains", nargs="+", default=["nuclei", "blood"])
    p.add_argument("--models", nargs="+", default=["dcgan", "cde"])
    p.add_argument("--data", default=str(DATA), help="folder holding <domain>/dev/<class>/*.png")
    p.add_argument("--n", type=int, default=1000, help="generated crops per FID (real side: the whole test part, capped at n)")
    p.add_argument("--runs", default="/tmp/cde_fid_budget", help="where the run directories go (outside the repo)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args(argv)
    import numpy as np, torch
    from cde.train import train
    from cde.run import generate, load_run_data
    from cde.config import PROFILES
    from cde.metrics import compute_fid
    from cde.config import save_json, load_json, environment_info, provenance
    torch.set_num_threads(a.threads)
    budget = a.budget or PROFILES["quick"]["train"]["time_budget_s"]
    out = ROOT/"bench"/"results"/"fid_budget.json"
    res = {"what": "FID vs held-out real test crops after the same wall-clock training budget", "budget_s": budget,
           "size": a.size, "n_generated": a.n, "threads": a.threads, "seed": a.seed, "results": [],
           "environment": environment_info("cpu"), "provenance": provenance(vars(a), ROOT)}  # this invocation's
    git = res["provenance"]["git"]  # the code as it is when this invocation starts: every row it measures records it
    mine = []  # rows measured by this invocation

    def merged() -> list:
        "Rows of other domains/models from the results file as it is now (another invocation may be writing it), then ours."
        done = {(r["domain"], r["model"]) for r in mine}
        old = load_json(out).get("results", []) if out.exists() else []
        return [r for r in old if (r["domain"], r["model"]) not in done] + mine
    for dom in a.domains:
        for m in a.models:
            run = Path(a.runs)/f"{dom}_{m}_{int(budget)}s_seed{a.seed}"
            cfg = {"dataset": dom, "data_dir": str(Path(a.data)/dom/"dev"), "size": a.size, "model": m, "profile": "quick",
                   "time_budget_s": budget, "seed": a.seed, "device": "cpu", "num_threads": a.threads}
            t = time.time()
            if not (run/"status.json").exists(): train(cfg, run, resume=(run/"config.json").exists())
            train_s = time.time() - t
            test = load_run_data(run, "test")
            if len(test) > a.n: test = test.subset(np.sort(np.random.default_rng(0).permutation(len(test))[:a.n]))
            fake = generate(run, a.n, seed=a.seed)
            r = compute_fid(fake, test, names=(f"{dom}-{m}", f"{dom}-test"), kid=True)
            st = load_json(run/"status.json")
            row = {"domain": dom, "model": m, "budget_s": budget, "fid": round(r["fid"], 2), "kid": r.get("kid"), "n_fake": r["n_a"], "n_real": r["n_b"],
                   "mode": r["mode"], "steps": st["steps"], "train_wall_s": round(train_s, 1),
                   "run_dir": f"<runs>/{run.name}",  # --runs is outside the repo: no path of this machine is committed
                   "git": git, "config": provenance(load_json(run/"config.json"), ROOT)["config"]}  # the resolved run config
            mine.append(row); print(json.dumps(row), flush=True)
            res["results"] = merged(); save_json(res, out)
    res["results"] = merged()
    print(f"\n{'domain':8} {'model':6} {'FID':>8} {'n_fake':>7} {'n_real':>7}")
    for r in res["results"]: print(f"{r['domain']:8} {r['model']:6} {r['fid']:>8} {r['n_fake']:>7} {r['n_real']:>7}")
    for dom in sorted({r["domain"] for r in res["results"]}):
        f = {r["model"]: r["fid"] for r in res["results"] if r["domain"] == dom}
        if {"dcgan", "cde"} <= set(f):
            ok = f["cde"] <= f["dcgan"] / 2
            res.setdefault("target_cde_at_most_half_dcgan", {})[dom] = ok
            print(f"{dom}: cde {f['cde']} vs dcgan {f['dcgan']}: target (cde <= dcgan/2) {'met' if ok else 'NOT met'}")
    save_json(res, out)

if __name__ == "__main__":
    main()
