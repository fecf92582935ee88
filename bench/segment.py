"""Benchmark of synthetic image + mask pairs for segmentation (issue #23): records finished `cde validate --task segment`
folders, one variant each (a pair generator: conditional / joint, its training), into bench/results/segment.json.

Usage: python bench/segment.py --from-validate DIR --variant NAME [--note TEXT]

Per variant: each arm's Dice / IoU / DSB score in % (seed mean, 95 % interval resampling source fields and seeds, seed
sd), the paired claims, TSTR Dice as a share of TRTR Dice, the mask fit, the U-Nets' settings and wall time, and the pair
runs' training (model, steps, images seen, seconds) read from their folders; with the commit of the code that ran
(`run_git`: the validate folder's results.json provenance) and of the recording (`provenance`).
"""
import argparse
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/"bench"/"results"/"segment.json"


def pct(m: dict) -> dict:
    "An interval record in %, rounded."
    return {k: round(100 * m[k], 2) for k in ("value", "lo", "hi", "sd") if k in m} | {k: m[k] for k in ("seeds", "n", "unit") if k in m}


def pair_run(path) -> dict | None:
    "What a pair run's folder says about its training."
    from cde.config import load_json
    if path is None or not (Path(path)/"status.json").exists(): return None
    st, cfg = load_json(Path(path)/"status.json"), load_json(Path(path)/"config.json")
    return {"run": Path(path).name, "pair_model": cfg.get("pair_model"), "field_fraction": cfg.get("field_fraction"),
            "profile": cfg.get("profile"), "seed": cfg.get("seed"), "steps": st["steps"]["pairs"],
            "images_seen": st["images_seen"]["pairs"], "elapsed_s": st["elapsed_s"]["pairs"], "budget_s": st["budget_s"]["pairs"]}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--from-validate", required=True, help="a finished `cde validate --task segment` folder")
    p.add_argument("--variant", required=True)
    p.add_argument("--note", help="what else ran on the machine meanwhile, or anything a reader should know")
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    from cde.config import load_json, provenance, save_json
    vdir = Path(a.from_validate); res, conf = load_json(vdir/"results.json"), load_json(vdir/"config.json")
    s = {r["arm"]: r for r in res["summary"]}
    run = {"wall_s": res["wall_s"], "wall_min": round(res["wall_s"] / 60, 1), "run_git": res["provenance"]["git"], "config": res["config"], "few_fraction": res["few_fraction"],
           "few_synthetic": res.get("few_synthetic"), "n": conf["n"], "n_synthetic": conf.get("n_synthetic"),
           "pair_runs": [x for x in (pair_run(conf.get("synthetic")), pair_run(conf.get("few_synthetic"))) if x],
           "tstr_over_trtr_dice": round(s["tstr"]["dice"]["value"] / s["trtr"]["dice"]["value"], 3) if "tstr" in s else None,
           "mask_fit": pct(res["mask_fit"]) if res.get("mask_fit") else None, "note": a.note,
           "arms": [{"arm": r["arm"], "n_train": r["n_train"], "n_test": r["n_test"], "seeds": r["seeds"],
                     **{k: pct(r[k]) for k in ("dice", "iou", "instance_ap")}} for r in res["summary"]],
           "claims": [{"claim": c["claim"], "arm": c["arm"], "control": c["control"], "verdict": c["verdict"],
                       "dice_difference": pct(c["difference"])} for c in res["claims"]]}
    out = Path(a.out); old = load_json(out) if out.exists() else {"variants": {}}
    old["variants"][a.variant] = run
    save_json({"what": "Synthetic image + mask pairs for segmentation: U-Nets trained per arm, tested on held-out real nuclei crops "
                       "(cde validate --task segment)", "variants": old["variants"],
               "provenance": provenance({**vars(a), "validate_dir": vdir.name}, ROOT)}, out)
    print(f"{a.variant}: TSTR/TRTR Dice {run['tstr_over_trtr_dice']}; " + "; ".join(f"{c['arm']}: {c['verdict']}" for c in run["claims"]))


if __name__ == "__main__": main()
