"""Benchmark `cde.data.load_domain`: crops per second for the first ingest (empty cache) and for a cached reload.

Usage: python bench/data.py [--repeats 3] [--out bench/results/data.json]
Reads ../shared/data/nuclei/dev (6000 PNG crops, class-tree layout), ../shared/data/raw/dsb2018 (native DSB2018
fields + masks) and two more raw layouts; records the git commit, dirty flag and arguments (`provenance`); the
cache lives in a temporary CDE_CACHE that is deleted afterwards.
"""
import argparse, json, os, shutil, statistics, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent/"shared"/"data"
CASES = [("nuclei", SHARED/"nuclei"/"dev", "shared nuclei dev crops (folder layout)"),
         ("nuclei", SHARED/"raw"/"dsb2018", "raw DSB2018 stage1_train fields + masks"),
         ("colon", SHARED/"raw"/"bbbc018", "raw BBBC018 DIB fields + outlines"),
         ("blood", SHARED/"raw"/"all_taleqani", "raw Taleqani ALL smear fields (stain-colour detector)")]

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each measurement (median reported)")
    p.add_argument("--out", default=str(ROOT/"bench"/"results"/"data.json"))
    a = p.parse_args(argv)
    from cde.config import provenance
    prov = provenance({**vars(a), "cases": [list(map(str, c)) for c in CASES]}, ROOT)  # the code as it is when the run starts
    cache = Path(tempfile.mkdtemp(prefix="cde-bench-cache-"))
    os.environ["CDE_CACHE"] = str(cache)
    import warnings; warnings.simplefilter("ignore")
    from cde.data import load_domain
    from cde.config import save_json, environment_info
    results = []
    try:
        for name, root, what in CASES:
            if not root.is_dir(): print(f"skip {root}: not found"); continue
            first, reload = [], []
            for _ in range(a.repeats):
                for f in cache.glob("*.npz"): f.unlink()          # first ingest: empty cache
                t = time.perf_counter(); cs = load_domain(name, root, progress=False); first.append(time.perf_counter() - t)
                assert cs.meta["from_cache"] is False
                t = time.perf_counter(); c2 = load_domain(name, root, progress=False); reload.append(time.perf_counter() - t)
                assert c2.meta["from_cache"] is True and c2.checksum() == cs.checksum()
            n, tf, tr = len(cs), statistics.median(first), statistics.median(reload)
            r = {"dataset": name, "data": str(root.relative_to(SHARED.parents[1])), "what": what, "n": n,
                 "shape": list(cs.images.shape[1:]), "repeats": a.repeats,
                 "first_ingest_s": round(tf, 3), "first_ingest_crops_per_s": round(n / tf, 1),
                 "cached_reload_s": round(tr, 4), "cached_reload_crops_per_s": round(n / tr, 1),
                 "speedup": round(tf / tr, 1), "cache_file_mb": round(Path(cs.meta["cache_file"]).stat().st_size / 2**20, 2),
                 "first_ingest_all_s": [round(x, 3) for x in first], "cached_reload_all_s": [round(x, 4) for x in reload]}
            results.append(r)
            print(f"{what}: n={n}  first ingest {tf:.2f} s ({n / tf:.0f} crops/s)  cached reload {tr:.3f} s "
                  f"({n / tr:.0f} crops/s)  x{tf / tr:.0f}")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    env = environment_info("cpu")
    env["load_average"] = os.getloadavg()
    save_json({"benchmark": "data", "results": results, "environment": env,
               "note": "wall-clock on a shared machine; see load_average", "provenance": prov}, a.out)
    print(f"wrote {a.out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
