"""Benchmark of cde.curate on the real dev crops: what each default filter removes, and crops/s of every step.

Usage: python bench/curate.py [--data ../shared/data] [--domains nuclei blood colon blood_bccd] [--denoise-n 500]
Prints a table and writes bench/results/curate.json (with the git commit, dirty flag and settings: `provenance`);
also writes figures/curation_blood.png (full blood dev set, default filters + Reinhard) for the docs.
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np
import torch
ROOT = Path(__file__).resolve().parents[1]
from cde.config import save_json, environment_info, provenance
from cde.data import load_domain
from cde.curate import (curate, DEFAULT_CURATION, denoise, percentile_stretch, reinhard_normalize, augment,
                        curation_figure, find_blurred)

def rate(n, f):
    t = time.perf_counter(); f(); dt = time.perf_counter() - t
    return round(n / dt, 1), round(dt, 2)

def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent/"shared"/"data"))
    p.add_argument("--domains", nargs="+", default=["nuclei", "blood", "colon", "blood_bccd"])
    p.add_argument("--denoise-n", type=int, default=500)
    p.add_argument("--no-figure", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    res = {"environment": environment_info("cpu"), "settings": DEFAULT_CURATION, "domains": {},
           "provenance": provenance({**vars(a), "curation": DEFAULT_CURATION}, ROOT)}
    for d in a.domains:
        cs = load_domain("folder", Path(a.data)/d/"dev", channels=1 if d == "nuclei" else 3, progress=False)
        t = time.perf_counter(); after, rep = curate(cs, None, progress=False); dt = time.perf_counter() - t
        r = {"n": len(cs), "channels": cs.channels, "n_after": rep["n_after"], "default_curate_s": round(dt, 2),
             "default_curate_crops_per_s": round(len(cs) / dt, 1),
             "removed": {s["step"]: s["removed"] for s in rep["steps"]},
             "removed_per_class": {s["step"]: s["removed_per_class"] for s in rep["steps"]},
             "dedupe_groups_across_sources": rep["steps"][2]["groups_across_sources"],
             "dedupe_groups_mixed_labels": rep["steps"][2]["groups_with_mixed_labels"]}
        # planted heavy blur (Gaussian sigma 4) on 100 crops: how many the blur filter catches
        from skimage.filters import gaussian
        sub = cs.images[:: max(1, len(cs) // 100)][:100]
        bl = (np.stack([gaussian(im, sigma=4, channel_axis=-1) for im in sub]) * 255).round().astype(np.uint8)
        lab = np.r_[cs.labels, cs.labels[:: max(1, len(cs) // 100)][:100]]
        flag, _ = find_blurred(np.concatenate([cs.images, bl]), lab)
        r["planted_blur_sigma4_flagged"] = f"{int(flag[len(cs):].sum())}/{len(bl)}"
        x = cs.images[:a.denoise_n]
        for m in ("nlmeans", "median"): r[f"denoise_{m}_crops_per_s"] = rate(len(x), lambda: denoise(x, m))[0]
        r["percentile_crops_per_s"] = rate(len(cs), lambda: percentile_stretch(cs.images))[0]
        if cs.channels == 3: r["reinhard_crops_per_s"] = rate(len(cs), lambda: reinhard_normalize(cs.images))[0]
        r["augment_crops_per_s"] = rate(len(x), lambda: augment(cs.subset(np.arange(len(x))), n_per_image=1))[0]
        res["domains"][d] = r
        print(d, json.dumps(r), flush=True)
        if d == "blood" and not a.no_figure:
            import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
            aft, rp = curate(cs, {"normalize": "reinhard"}, progress=False)
            fig = curation_figure(cs, aft, rp, title="blood (ALL, dev)"); fig.savefig(ROOT/"figures"/"curation_blood.png", dpi=120); plt.close(fig)
    save_json(res, ROOT/"bench"/"results"/"curate.json")
    print("wrote bench/results/curate.json")

if __name__ == "__main__": sys.exit(main())
