"""Benchmark of blood's classifier stage: the whole `cde validate` that `cde reproduce` runs for a labelled domain (the five
architectures x every arm: tstr, trtr, mixed, imbalance real / restored x the profile's training seeds), timed end to end.

Usage: python bench/classify_stage.py --synthetic GAN_RUN_DIR [--profile quick] [--out-dir DIR] [--variant NAME]
       python bench/classify_stage.py --from-validate DIR [--variant NAME]   (record a finished `cde validate` folder)
Merges into bench/results/classify_stage.json, under the variant's name: the stage's wall time, the threads and worker
processes, the machine's cores and load, and per arm and model the balanced accuracy and AUROC in % (seed mean, 95 %
interval by source field, seed sd), how many seeds did not fit, mean steps and seconds per fit; with the commit of the
code that trained (`run_git`: the validate folder's environment.json; its dirty flag is not recorded there) and of the
recording (`provenance`).
"""
import argparse, os, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/"bench"/"results"/"classify_stage.json"


def cells_of(res: dict) -> list:
    "One row per Table 1 cell (arm x model) of a results.json with seed summaries."
    r = lambda m: {x: round(100 * m[x], 2) for x in ("value", "lo", "hi", "sd")}
    return [{"arm": c["protocol"], "model": c["model"], "seeds": c["seeds"], "did_not_fit": c["did_not_fit"],
             "balanced_accuracy": r(c["metrics"]["balanced_accuracy"]), "auroc": r(c["metrics"]["auroc"]),
             "steps": c["train"]["steps"], "wall_s_per_fit": c["train"]["wall_s"], "n_real": c["n_real"],
             "n_synthetic": c["n_synthetic"], "n_test": c["n_test"], "n_val": c["n_val"]} for c in res["summary"]]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--synthetic", help="a GAN run directory of blood (per-class GANs): run the stage on it")
    p.add_argument("--from-validate", help="a finished `cde validate` folder to record instead of training")
    p.add_argument("--profile", default="quick")
    p.add_argument("--out-dir", help="where the validate folder goes (default: a new temporary folder)")
    p.add_argument("--variant", default="default")
    p.add_argument("--note", help="what else ran on the machine meanwhile, or anything a reader of the timing should know")
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    if bool(a.synthetic) == bool(a.from_validate): p.error("give exactly one of --synthetic, --from-validate")
    from cde.config import provenance, save_json, load_json, cpu_model
    load0, t0 = os.getloadavg(), time.time()
    if a.synthetic:
        import tempfile
        from cde.classify import validate
        vdir = Path(a.out_dir) if a.out_dir else Path(tempfile.mkdtemp(prefix="cde-stage-"))/"validate"
        validate(out=vdir, synthetic=a.synthetic, protocols="tstr,trtr,mixed,imbalance", profile=a.profile)
    else: vdir = Path(a.from_validate)
    res, env = load_json(vdir/"results.json"), load_json(vdir/"environment.json")
    cfg = res["config"]
    run = {"wall_s": res["wall_s"], "wall_min": round(res["wall_s"] / 60, 1), "threads": cfg.get("threads"),
           "workers": cfg.get("workers", 1), "worker_threads": cfg.get("worker_threads"), "cpu_count": env.get("cpu_count"),
           "profile": cfg.get("profile"), "max_steps": cfg.get("max_steps"), "seeds": cfg.get("training_seeds"),
           "run_git": {"commit": env.get("git_commit"), "dirty": None}, "environment": env,
           "loadavg_before": load0 if a.synthetic else None, "loadavg_after": os.getloadavg() if a.synthetic else None,
           "bf16_models": cfg.get("bf16_models") or [], "cpu_model": env.get("cpu") or cpu_model(),  # the training machine where environment.json has it
           "note": a.note, "rows": cells_of(res)}
    out = Path(a.out); old = load_json(out) if out.exists() else {"variants": {}}
    old["variants"][a.variant] = run
    prov = provenance({**vars(a), "validate_dir": vdir.name}, ROOT)
    save_json({"what": ("Blood's classifier stage of `cde reproduce`: five architectures x five arms x the profile's seeds, "
                        "timed end to end"), "variants": old["variants"], "environment": env, "provenance": prov,
               "note": "; ".join(f"{k}: {v['note']}" for k, v in old["variants"].items() if v.get("note")) or None}, out)
    print(f"stage: {run['wall_min']} min ({run['workers']} worker(s) x {run['worker_threads']} thread(s), {run['cpu_count']} cores)")
    print(f"{'arm':<28}{'model':<17}{'bal. acc (95 % CI) sd':>30}{'AUROC':>8}{'unfit':>6}")
    for r in run["rows"]:
        b = r["balanced_accuracy"]
        print(f"{r['arm']:<28}{r['model']:<17}{b['value']:>8.1f} ({b['lo']:.1f}-{b['hi']:.1f}) sd {b['sd']:>4.1f}"
              f"{r['auroc']['value']:>8.1f}{r['did_not_fit']:>6}")
    print(f"wrote {out} (recorded in {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
