"""Benchmark of how the five classifiers learn: blood, train-real-test-real, several training seeds, one training recipe per variant.

Usage: python bench/classify_fit.py --variant NAME [--set key=value ...] [--seeds 3] [--threads 2] [--models a,b]
       python bench/classify_fit.py --variant NAME --from-validate DIR [DIR ...]   (record finished `cde validate --protocol trtr`
       runs, e.g. of an earlier commit, one row per run and model with that run's own commit, seed and interval)
Trains each model on the real `train` split of `blood` (standard split, seed 0), selects on `val`, scores on `test` through
`cde.classify.run_validation` (the product's own path, profile `quick` with the `--set` overrides), and merges one row per
model into bench/results/classify_fit.json under the variant's name (a rerun of a variant replaces it): balanced accuracy and
AUROC (seed mean, test-set interval by source field, seed sd), steps, seconds per model, how many seeds did not fit. With a
step budget the numbers do not depend on machine load; the seconds do (the load average is recorded).
"""
import argparse, ast, os, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/"bench"/"results"/"classify_fit.json"


def _value(v: str):
    "A --set value: a Python literal when it parses, else the string."
    try: return ast.literal_eval(v)
    except (ValueError, SyntaxError): return v


def row_of(cell: dict, variant: str, overrides: dict) -> dict:
    "One results row from a Table 1 cell (`seed_summary`)."
    m = cell["metrics"]
    r = lambda k: {x: round(100 * m[k][x], 2) for x in ("value", "lo", "hi", "sd")}
    return {"variant": variant, "model": cell["model"], "seeds": cell["seeds"], "did_not_fit": cell["did_not_fit"],
            "balanced_accuracy": r("balanced_accuracy"), "auroc": r("auroc"), "accuracy": r("accuracy"),
            "balanced_accuracy_per_seed": [round(100 * v, 2) for v in m["balanced_accuracy"]["per_seed"]],
            "steps": cell["train"]["steps"], "wall_s_per_model": cell["train"]["wall_s"], "n_test": cell["n_test"],
            "n_val": cell["n_val"], "n_train": cell["n_real"], "size": cell["size"], "overrides": overrides}


def rows_from_validate(dirs, variant: str) -> tuple[list, dict]:
    "Rows and run records from finished `cde validate` folders (one training seed each, as written before seeds existed)."
    import numpy as np
    from cde.config import load_json
    from cde.fitting import did_not_fit
    rows, runs = [], {}
    for d in map(Path, dirs):
        res, cfg, env = load_json(d/"results.json"), load_json(d/"config.json"), load_json(d/"environment.json")
        for r in res["rows"]:
            if r["protocol"] != "trtr": continue
            counts = np.asarray(r["confusion"]).sum(0)  # predictions per class
            cell = {**r, "seeds": [cfg["seed"]], "did_not_fit": int(did_not_fit(np.repeat(np.arange(len(counts)), counts), len(counts))),
                    "metrics": {k: {**v, "sd": 0.0, "per_seed": [v["value"]]} for k, v in r["metrics"].items() if k != "_bootstrap"}}
            rows.append({**row_of(cell, variant, {}), "commit": env.get("git_commit"), "split_seed": cfg.get("split_seed")})
        runs[f"{variant} seed {cfg['seed']}"] = {"provenance": {"git": {"commit": env.get("git_commit")}, "config": res["config"]},
                                                 "environment": env, "threads": env.get("torch_threads"), "wall_s": res.get("wall_s"),
                                                 "config": {k: v for k, v in res["config"].items() if k != "profile"}}
    return rows, runs


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--variant", required=True, help="name of this training recipe in the results file")
    p.add_argument("--set", nargs="*", default=[], help="classify profile overrides, key=value")
    p.add_argument("--models", default="resnet50,densenet121,efficientnet_b0,vgg16_bn,inception_v3")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", default="auto")
    p.add_argument("--data-dir", default=None, help="blood crops (default: the shared real crop sets' blood/dev)")
    p.add_argument("--from-validate", nargs="+", help="record these finished `cde validate` folders instead of training")
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    from cde.config import shared_data, provenance, save_json, load_json, environment_info, resolve_threads
    from cde.data import load_domain, standard_split
    from cde.classify import run_validation
    out = Path(a.out); load_old = lambda: load_json(out) if out.exists() else {"rows": [], "runs": {}}
    what = ("How the five classifiers learn on real blood crops (train-real-test-real, standard split, selected on the real val "
            "split, scored on the held-out test split): one training recipe per variant, several training seeds")
    if a.from_validate:
        rows, runs = rows_from_validate(a.from_validate, a.variant); old = load_old()
        old["rows"] = [r for r in old["rows"] if r["variant"] != a.variant] + rows; old["runs"].update(runs)
        prov = provenance({**vars(a), "from_validate": [Path(d).name for d in a.from_validate]}, ROOT)
        save_json({"what": what, "rows": old["rows"], "runs": old["runs"], "provenance": prov,
                   "environment": next(iter(runs.values()))["environment"]}, out)
        print(f"recorded {len(rows)} rows as {a.variant!r} in {out}"); return 0
    data_dir = Path(a.data_dir) if a.data_dir else shared_data()/"blood"/"dev"
    ov = {"seeds": a.seeds, "threads": a.threads if a.threads == "auto" else int(a.threads),
          **{k: _value(v) for k, v in (s.split("=", 1) for s in a.set)}}
    prov, load0 = provenance({**vars(a), "data_dir": str(data_dir), "overrides": ov}, ROOT), os.getloadavg()
    parts = standard_split(load_domain("blood", data_dir, size=None, progress=False), 0)
    res = run_validation(parts, protocols=["trtr"], models=a.models.split(","), profile="quick", seed=0, overrides=ov, progress=True)
    rows = [row_of(c, a.variant, ov) for c in res["summary"]]
    old = load_old()  # read after training: another variant may have finished meanwhile
    old["rows"] = [r for r in old["rows"] if not (r["variant"] == a.variant and r["model"] in a.models.split(","))] + rows
    old["runs"][a.variant] = {"provenance": prov, "environment": environment_info("cpu"), "threads": res["config"]["threads"],
                              "loadavg_before": load0, "loadavg_after": os.getloadavg(), "wall_s": res["wall_s"],
                              "config": {k: v for k, v in res["config"].items() if k != "profile"}}
    save_json({"what": what, "rows": old["rows"], "runs": old["runs"], "provenance": prov,  # the latest run's; each variant keeps its own
               "environment": old["runs"][a.variant]["environment"]}, out)
    print(f"{'model':<16}{'bal. acc (95 % CI) sd':>32}{'AUROC':>8}{'steps':>7}{'s/model':>9}{'unfit':>6}")
    for r in rows:
        b = r["balanced_accuracy"]
        print(f"{r['model']:<16}{b['value']:>8.1f} ({b['lo']:.1f}-{b['hi']:.1f}) sd {b['sd']:>4.1f}{r['auroc']['value']:>12.1f}"
              f"{r['steps']:>7.0f}{r['wall_s_per_model']:>9.1f}{r['did_not_fit']:>6}")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
