"""Benchmark of cde.metrics: Inception feature throughput on this machine, and the real-vs-real FID floor
of every domain in ../shared/data at n = 500 and n = 2000 per half (or the largest n the set allows).

Halves are cut by source field (cde.crops.split_by_source, seed 0), so no field feeds both sides. Features
are embedded in chunks of 250 images and cached (cde.config.cache_dir()/features), so an interrupted run
resumes where it stopped. Results are written after every step to bench/results/metrics.json, with the git commit,
dirty flag and arguments (`provenance`); a resumed run keeps the floors an earlier one measured, each with its own git state.

    python bench/metrics.py [--data ../shared/data] [--ns 500 2000] [--domains nuclei blood ...] [--fresh] [--redo-throughput]
"""
from __future__ import annotations
import argparse, shutil, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from PIL import Image

from cde.config import environment_info, load_json, save_json, provenance
from cde.crops import read_folder, split_by_source
from cde import metrics as M

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = {"nuclei": 1, "blood": 3, "blood_bccd": 3, "colon": 3}
CHUNK = 250


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def throughput(images: np.ndarray, batch_size: int) -> dict:
    "Images/s of the batched in-memory path and of clean-fid's folder loader, on the same images, uncached."
    net = M.load_inception()
    x = M.load_images(images)
    M.inception_features(images[:2], progress=False, cache=False)  # warm-up
    t = time.time(); M.inception_features(images, batch_size=batch_size, progress=False, cache=False)
    ours = len(images) / (time.time() - t)
    d = Path(tempfile.mkdtemp())
    try:
        for i, a in enumerate(images): Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(d/f"{i:05d}.png")
        t = time.time(); f_cf = M.cleanfid_folder_features(d, batch_size=batch_size, progress=False)
        cf = len(images) / (time.time() - t)
    finally: shutil.rmtree(d)
    f_ours = M.inception_features(images, batch_size=batch_size, progress=False)  # cached now
    t = time.time(); M.clean_resize(x); resize = len(x) / (time.time() - t)
    return {"n_images": len(images), "batch_size": batch_size, "device": str(net.device),
            "torch_threads": torch.get_num_threads(), "batched_images_per_s": round(ours, 2),
            "cleanfid_folder_loader_images_per_s": round(cf, 2), "clean_resize_only_images_per_s": round(resize, 1),
            "max_abs_feature_difference": float(np.abs(f_cf - f_ours).max())}


def chunked_features(images: np.ndarray, name: str) -> np.ndarray:
    "Features in cached chunks of CHUNK images (resumable)."
    out = []
    for i in range(0, len(images), CHUNK):
        log(f"  {name}: images {i}..{min(i + CHUNK, len(images))} of {len(images)}")
        out.append(M.inception_features(images[i:i + CHUNK], progress=False, name=name))
    return np.concatenate(out)


def fid_timing(fa, fb) -> dict:
    "Our exact FID vs clean-fid's frechet_distance (sqrtm) on the same features: value and seconds."
    from cleanfid.fid import frechet_distance
    t = time.time(); ours = M.fid_from_features(fa, fb); t_ours = time.time() - t
    t = time.time()
    cf = frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))
    t_cf = time.time() - t
    return {"n": len(fa), "fid_ours": ours, "fid_cleanfid": float(cf), "relative_difference": abs(ours - cf) / max(cf, 1e-12),
            "seconds_ours": round(t_ours, 2), "seconds_cleanfid_sqrtm": round(t_cf, 2)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent/"shared"/"data"))
    p.add_argument("--ns", type=int, nargs="+", default=[500, 2000])
    p.add_argument("--domains", nargs="+", default=list(CHANNELS))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--throughput-n", type=int, default=64)
    p.add_argument("--out", default=str(ROOT/"bench"/"results"/"metrics.json"))
    p.add_argument("--fresh", action="store_true", help="ignore an earlier results file (default: resume from it)")
    p.add_argument("--redo-throughput", action="store_true", help="measure throughput again when resuming")
    a = p.parse_args(argv)
    data = Path(a.data)
    if not data.is_dir(): sys.exit(f"data folder {data} not found: pass --data")
    net = M.load_inception()
    res = {"benchmark": "metrics", "environment": environment_info(net.device), "weights": net.info,
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "throughput": None, "floors": {},
           "provenance": provenance(vars(a), ROOT)}  # this invocation's; each floor it measures records its git state too
    git = res["provenance"]["git"]
    out = Path(a.out)
    if out.exists() and not a.fresh:  # resume: keep what an earlier run measured with the same Inception weights
        old = load_json(out)
        if old.get("weights", {}).get("sha256") == net.info.get("sha256"):
            res["floors"] = old.get("floors", {})
            for k in ("throughput", "fid_timing"):
                if old.get(k) is not None and not (k == "throughput" and a.redo_throughput): res[k] = old[k]
            res["resumed_from"] = old.get("started")
            log(f"resuming {out}: floors already measured for {sorted(res['floors'])}")
    def save(): save_json(res, out)
    sets = {}
    for dom in a.domains:
        log(f"reading {dom}")
        cs = read_folder(data/dom/"dev", CHANNELS[dom], 64)[0]
        parts = split_by_source(cs, {"a": 0.5, "b": 0.5}, seed=0)
        rng = np.random.default_rng(0)
        sets[dom] = (cs, {k: parts[k].subset(rng.permutation(len(parts[k]))) for k in "ab"})
    if res["throughput"] is None:
        log("throughput")
        res["throughput"] = throughput(sets[a.domains[0]][0].images[:a.throughput_n], a.batch_size); save()
    log(res["throughput"])
    for n in sorted(a.ns):  # every domain at the small n first, so a partial run still covers all domains
        for dom in a.domains:
            cs, halves = sets[dom]
            m = min(n, len(halves["a"]), len(halves["b"]))
            key = f"n{n}"
            if res["floors"].get(dom, {}).get(key, {}).get("n") == m: continue
            log(f"{dom}: floor at n={m} per half (asked {n})")
            t = time.time()
            fa = chunked_features(halves["a"].images[:m], f"{dom}-a")
            fb = chunked_features(halves["b"].images[:m], f"{dom}-b")
            r = {"fid": M.fid_from_features(fa, fb), "n": m, "n_asked": n, "split": "by source field (seed 0)",
                 "sources": [len(set(halves[k].sources[:m])) for k in "ab"], "dev_crops": len(cs),
                 "kid": M.kid_from_features(fa, fb, num_subsets=50)["kid"], "seconds": round(time.time() - t, 1), "git": git}
            res["floors"].setdefault(dom, {})[key] = r; save()
            log(f"{dom} {key}: FID floor {r['fid']:.2f} (n={m}), KID {r['kid']:.4f}")
            if dom == a.domains[0] and n == min(a.ns) and "fid_timing" not in res:
                res["fid_timing"] = fid_timing(fa, fb); save(); log(res["fid_timing"])
    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()); save()
    print(f"{'domain':<11} {'n':>5} {'FID floor':>9}")
    for dom, rows in res["floors"].items():
        for key, r in rows.items(): print(f"{dom:<11} {r['n']:>5} {r['fid']:>9.2f}")
    t = res["throughput"]
    print(f"throughput: batched {t['batched_images_per_s']} img/s, clean-fid loader {t['cleanfid_folder_loader_images_per_s']} img/s")


if __name__ == "__main__":
    main()
