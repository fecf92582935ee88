"""Quality study of GAN recipes at a fixed CPU budget: FID, KID, precision / recall / density / coverage, curves.

For each domain × variant × seed: `cde.train.train` on the domain's standard-split `train` part with a wall-clock
budget and one torch thread (`--jobs` runs side by side, 2 on a 2-core CPU), saving generator snapshots at
`--snapshots` evenly spaced points of the budget; then, in the same worker process:

- final scores: `--n-gen` generated crops (EMA generator, and the raw one too where the run keeps an EMA) against
  *all* held-out `test` crops of the domain (n stated): FID (clean mode), KID, and precision / recall / density /
  coverage with k = 5;
- the real-vs-real floor at the same n: the same metrics between `--n-gen` real `train` crops (drawn without
  replacement, or all of them) and the same `test` crops, i.e. what a generator that samples the training
  distribution exactly would score;
- a quality-versus-images-seen curve: FID / precision / recall of `--n-snap` samples of each snapshot against the
  same `test` crops (for per-class runs snapshot k of every class's GAN, at k/S of its own budget).

Every row records the git commit and a dirty flag, the full resolved config, the seed, images seen and training
images/s. Real features are computed once per domain (cde.metrics' feature cache, keyed by pixels and weights).

Usage:
  python bench/quality.py --domains nuclei blood --variants dcgan cde --budget 900 --seeds 0 1 --jobs 2
  python bench/quality.py --variant cde_rp=cde:loss=rpgan,r1_gamma=0.05,r2_gamma=0.05 --variants cde_rp ...
  python bench/quality.py --report            # table and figure from bench/results/quality.json only
A variant is a model preset of cde.gan.MODELS, or NAME=PRESET:key=value,... (values parsed as YAML).
Writes bench/results/quality.json (rows merged by domain / variant / seed / budget, so runs can be added later)
and bench/results/quality.png. Run it in the background with a log: it takes budget + evaluation per job.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/"bench"/"results"/"quality.json"


def parse_variant(spec: str) -> tuple[str, dict]:
    "`NAME=PRESET:key=value,...` → (NAME, {model: PRESET, key: value, ...}); a bare preset name is its own variant."
    import yaml
    name, _, rest = spec.partition("=")
    if not rest: return name, {"model": name}
    preset, _, kv = rest.partition(":")
    over = {}
    for item in filter(None, kv.split(",")):
        k, eq, v = item.partition("=")
        if not eq: raise SystemExit(f"--variant {spec}: expected key=value, got {item!r}")
        val = yaml.safe_load(v)
        if isinstance(val, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
            try: val = float(val)
            except ValueError: pass
        over[k.strip()] = val
    return name, {"model": preset, **over}


def metrics_row(real_f, fake_f, seed: int) -> dict:
    "FID, KID and PRDC (k 5) of fake features against real ones, with both n."
    from cde.metrics import fid_from_features, kid_from_features, compute_prdc
    k = kid_from_features(real_f, fake_f, seed=seed)
    p = compute_prdc(real_f, fake_f, 5)
    return {"fid": round(fid_from_features(real_f, fake_f), 3), "kid": round(k["kid"], 5),
            **{m: round(float(p[m]), 4) for m in ("precision", "recall", "density", "coverage")},
            "n_real": len(real_f), "n_fake": len(fake_f)}


def floor_sample(train, n: int):
    "The real train crops the floor is measured on: all of them, or `n` drawn without replacement (seed 0)."
    import numpy as np
    return train if len(train) <= n else train.subset(np.sort(np.random.default_rng(0).choice(len(train), n, replace=False)))


def c2st_row(test, fake, seed: int, steps: int = 600) -> dict:
    "The ImageNet-free check: cde.detect's classifier two-sample test of generated vs held-out real crops (real halves split by source), summarised."
    from cde.detect import c2st
    r = c2st(test.images, fake.images, real_groups=test.sources, steps=steps, seed=seed, num_threads=1)
    keep = ("auroc", "interval", "accuracy", "n_real_test", "n_fake_test", "n_real_groups_test", "steps", "seconds")
    return {k: r[k] for k in keep if k in r}


def add_c2st(res: dict, runs: Path, steps: int = 600) -> list:
    "Add the C2ST to every row of `res` that lacks it and whose run folder is under `runs`: the same generated crops (seed, n) as its final scores."
    from cde.run import generate, load_run_data, has_ema
    from cde.config import load_json
    done = []
    for r in res["rows"]:
        if "c2st" in r or not r.get("run_dir", "").startswith("<runs>"): continue
        run = runs/r["run_dir"].split("/", 1)[1]
        if not (run/"status.json").exists(): continue
        ema = has_ema(load_json(run/"config.json")); key = "ema" if ema else "raw"
        fake = generate(run, r["final"][key]["n_fake"], seed=r["seed"], ema=ema)
        r["c2st"] = c2st_row(load_run_data(run, "test"), fake, r["seed"], steps)
        print(f"[{time.strftime('%H:%M:%S')}] c2st {r['domain']} {r['variant']} seed {r['seed']}: AUROC {r['c2st']['auroc']:.3f}", flush=True)
        done.append(r)
    return done


def worker(job: dict) -> dict:
    "Train one (domain, variant, seed) run, then score it; returns the result row (also saved in the run dir)."
    import numpy as np, torch
    torch.set_num_threads(job["threads"])
    from cde.train import train
    from cde.run import generate, load_run_data, has_ema as run_has_ema
    from cde.metrics import inception_features
    from cde.config import load_json, save_json
    run = Path(job["run_dir"])
    t0 = time.time()
    if not (run/"status.json").exists(): train(job["config"], run, resume=(run/"config.json").exists(), progress=False)
    train_wall = time.time() - t0
    cfg, status = load_json(run/"config.json"), load_json(run/"status.json")
    kw = dict(progress=False, batch_size=50)
    test = load_run_data(run, "test"); tr = load_run_data(run, "train")
    ft = inception_features(test, name=f"{job['domain']}-test", **kw)
    floor = metrics_row(ft, inception_features(floor_sample(tr, job["n_gen"]), name=f"{job['domain']}-train", **kw), job["seed"])
    finals, has_ema = {}, run_has_ema(cfg)
    fake = generate(run, job["n_gen"], seed=job["seed"], ema=has_ema)
    finals["ema" if has_ema else "raw"] = metrics_row(ft, inception_features(fake, name="synthetic", **kw), job["seed"])
    detect = c2st_row(test, fake, job["seed"], job.get("c2st_steps", 600)) if job.get("c2st_steps", 600) else None
    if has_ema and job.get("raw", True):  # the raw generator too, at the curve's n (compare it with the curve's last, EMA, point)
        fake = generate(run, job["n_snap"], seed=job["seed"], ema=False)
        finals["raw"] = metrics_row(ft, inception_features(fake, name="synthetic", **kw), job["seed"])
    curve = []
    snaps = _snapshot_table(run)
    for k in sorted({s["k"] for s in snaps}):
        at = [s for s in snaps if s["k"] == k]
        fake = generate(run, job["n_snap"], seed=job["seed"], ema=has_ema, snapshot=k)
        curve.append({"k": k, "images_seen": int(sum(s["images_seen"] for s in at)),
                      "elapsed_s": round(sum(s["elapsed_s"] for s in at), 1),
                      **metrics_row(ft, inception_features(fake, name="synthetic", **kw), job["seed"])})
    imgs = int(sum(status["images_seen"].values())); secs = sum(status["elapsed_s"].values())
    row = {"domain": job["domain"], "variant": job["variant"], "seed": job["seed"], "budget_s": job["budget_s"], "epochs": job.get("epochs"),
           "final": finals, "floor": floor, "curve": curve, **({"c2st": detect} if detect else {}), "steps": status.get("steps"), "images_seen": imgs,
           "train_img_per_s": round(imgs / secs, 1) if imgs and secs else None, "train_wall_s": round(train_wall, 1),
           "n_test": len(test), "n_test_sources": int(len(set(test.sources))), "n_train": len(tr),
           "config": cfg, "git": job["git"], "run_dir": str(run), "eval_s": round(time.time() - t0 - train_wall, 1)}
    save_json(row, run/"quality_row.json")
    return row


def real_features(jobs: list):
    "Embed each domain's test crops and the floor's train crops once, before the workers start (they hit the cache)."
    from cde.run import resolve_config, run_data
    from cde.metrics import inception_features
    for dom in dict.fromkeys(j["domain"] for j in jobs):
        j = next(j for j in jobs if j["domain"] == dom)
        _, parts = run_data(resolve_config(dict(j["config"])))
        sub = floor_sample(parts["train"], j["n_gen"])
        t = time.time()
        inception_features(parts["test"], name=f"{dom}-test", progress=False, batch_size=50)
        inception_features(sub, name=f"{dom}-train", progress=False, batch_size=50)
        print(f"[{time.strftime('%H:%M:%S')}] {dom}: real features of {len(parts['test'])} test and {len(sub)} train crops "
              f"({time.time() - t:.0f} s)", flush=True)


def _snapshot_table(run) -> list:
    "Snapshots of a run as rows with `k` = their index within their unit (0-based), oldest first."
    from cde.run import list_snapshots
    rows, seen = [], {}
    for s in sorted(list_snapshots(run), key=lambda s: (s["unit"], s["images_seen"])):
        k = seen[s["unit"]] = seen.get(s["unit"], -1) + 1
        rows.append({**s, "k": k})
    return rows


def scrub(row: dict, data, runs) -> dict:
    "The row with this machine's data and run folders replaced by placeholders (no absolute paths are committed)."
    text = json.dumps(row)
    for path, tag in ((data, "$CDE_SHARED_DATA"), (runs, "<runs>")):
        text = text.replace(str(Path(path).resolve()), tag).replace(str(path), tag)
    return json.loads(text)


def merge(rows: list, args: dict | None = None) -> dict:
    "Merge new rows into the results file by (domain, variant, seed, budget); each row keeps its own `git` and `config`."
    from cde.config import load_json, save_json, provenance
    key = lambda r: (r["domain"], r["variant"], r["seed"], r["budget_s"], r.get("epochs"))
    old = load_json(OUT)["rows"] if OUT.exists() else []
    new = {key(r): r for r in rows}
    res = {"what": "GAN recipe quality study at a fixed CPU budget (bench/quality.py)",
           "rows": [r for r in old if key(r) not in new] + list(new.values()),
           "provenance": {**provenance(args or {}, ROOT),  # the arguments of the process that wrote the file last
                          "scope": "the last writer; every row records its own git state (`git`) and resolved config (`config`)"}}
    save_json(res, OUT)
    return res


def commits(rows: list) -> str:
    "The short commits that made `rows`, each marked when made on a dirty tree, or 'not recorded'."
    out = []
    for r in rows:
        g = r.get("git") or {}
        c = (g["commit"][:7] if g.get("commit") else "not recorded") + (" (dirty)" if g.get("dirty") else "")
        if c not in out: out.append(c)
    return ", ".join(out)


def _budget(r: dict) -> str:
    "A row's training budget in words: seconds of wall clock, or epochs (equal images)."
    return f"{r['epochs']} ep" if r.get("epochs") else f"{r['budget_s']:g} s"


BASELINE = "dcgan"  # the paper-faithful model every variant's median FID is divided by (same domain, budget and n)
DIVERGED_FID = 300  # a final FID above this is noise, not cells (the DCGAN's diverged runs score ~390)


def report(res: dict) -> str:
    "A markdown table, one row per domain / variant / budget over its seeds: median FID (mean ± sd), PRDC means, C2ST AUROC, diverged runs, median FID ÷ the DCGAN's (same domain, budget and n)."
    import numpy as np
    rows, lines = res["rows"], []
    lines.append("| domain | variant | budget | seeds | FID median (mean ± sd) | FID raw | precision | recall | density | coverage | "
                 f"C2ST AUROC | diverged (FID > {DIVERGED_FID}) | FID median ÷ DCGAN's | floor FID | floor P / R | n fake / real (sources) | images seen | img/s | commit |")
    lines.append("|" + "---|" * 19)
    groups = {}
    for r in rows: groups.setdefault((r["domain"], r["variant"], _budget(r)), []).append(r)
    def ms(vals, f="{:.1f}"):
        vals = [v for v in vals if v is not None]
        if not vals: return "–"
        return f.format(np.mean(vals)) + (" ± " + f.format(np.std(vals, ddof=1)) if len(vals) > 1 else "")
    pick = lambda r: r["final"].get("ema", r["final"].get("raw"))
    n_of = lambda rs: tuple(sorted({pick(r)["n_fake"] for r in rs}))  # FID is biased by n: divide only at the same n
    base = {(dom, b, n_of(rs)): np.median([pick(r)["fid"] for r in rs]) for (dom, var, b), rs in groups.items() if var == BASELINE}
    for (dom, var, b), rs in sorted(groups.items()):
        fids = [pick(r)["fid"] for r in rs]
        fe = f"{np.median(fids):.1f} ({ms(fids)})"
        fr = ms([r["final"]["raw"]["fid"] for r in rs if "raw" in r["final"] and "ema" in r["final"]])
        p, rc, d, c = (ms([pick(r)[k] for r in rs], "{:.3f}") for k in ("precision", "recall", "density", "coverage"))
        cs = ms([r["c2st"]["auroc"] for r in rs if r.get("c2st")], "{:.3f}")
        if any(r.get("c2st") for r in rs): cs += f" (n {sum(bool(r.get('c2st')) for r in rs)})"
        div = sum(f > DIVERGED_FID for f in fids)
        fl = rs[0]["floor"]
        ratio = f"{np.median(fids) / base[dom, b, n_of(rs)]:.2f}" if (dom, b, n_of(rs)) in base else "–"  # the target: ≤ 0.6 at the quick budget
        lines.append(f"| {dom} | {var} | {b} | {len(rs)} | {fe} | {fr} | {p} | {rc} | {d} | {c} | {cs} | {div} of {len(rs)} | {ratio} | "
                     f"{fl['fid']:.1f} | {fl['precision']:.2f} / {fl['recall']:.2f} | {pick(rs[0])['n_fake']} / "
                     f"{rs[0]['n_test']} ({rs[0]['n_test_sources']}) | {ms([r['images_seen'] for r in rs], '{:.0f}')} | "
                     f"{ms([r['train_img_per_s'] for r in rs])} | {commits(rs)} |")
    return "\n".join(lines)


def figure(res: dict, path: Path):
    "FID and precision / recall against images seen, one panel column per domain; one colour per variant and budget, its seeds as lines of that colour."
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from collections import Counter
    doms = sorted({r["domain"] for r in res["rows"] if r["curve"]})
    if not doms: return None
    fig, ax = plt.subplots(2, len(doms), figsize=(5.5 * len(doms), 8), squeeze=False)
    for j, dom in enumerate(doms):
        rows = [r for r in res["rows"] if r["domain"] == dom and r["curve"]]
        seeds = Counter(f"{r['variant']} ({_budget(r)})" for r in rows)  # variant and budget → runs, in first-seen order
        colour = {k: plt.get_cmap("tab20")(i % 20) for i, k in enumerate(seeds)}
        for r in rows:
            k = f"{r['variant']} ({_budget(r)})"; x = [c["images_seen"] / 1000 for c in r["curve"]]
            ax[0, j].plot(x, [c["fid"] for c in r["curve"]], marker="o", ms=3, lw=1, color=colour[k])
            ax[1, j].plot(x, [c["precision"] for c in r["curve"]], marker="o", ms=3, lw=1, color=colour[k])
            ax[1, j].plot(x, [c["recall"] for c in r["curve"]], marker="x", ms=3, lw=1, ls="--", color=colour[k])
        for k, n in seeds.items(): ax[1, j].plot([], [], color=colour[k], label=f"{k}, {n} seed(s)")
        fl = next(r["floor"] for r in res["rows"] if r["domain"] == dom)
        ax[0, j].axhline(fl["fid"], color="k", ls=":")
        ax[1, j].plot([], [], color="k", ls=":", label=f"real-vs-real FID floor {fl['fid']:.1f} (n {fl['n_fake']} / {fl['n_real']}, not the curve's n)")
        n_snap = rows[0]["curve"][0]["n_fake"]
        ax[0, j].set(title=f"{dom}: FID of {n_snap} samples vs {fl['n_real']} held-out crops", xlabel="thousands of images seen", ylabel="FID (clean)")
        ax[1, j].set(xlabel="thousands of images seen", ylabel="precision (o) / recall (x, dashed)", ylim=(0, 1))
        ax[1, j].legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.15))  # below the panels
    fig.tight_layout(); fig.savefig(path, dpi=110, bbox_inches="tight"); plt.close(fig)
    return path


def main(argv=None):
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", nargs="+", default=["nuclei", "blood"])
    ap.add_argument("--variants", nargs="+", default=["dcgan", "cde"])
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PRESET:key=value,...")
    ap.add_argument("--budget", type=float, default=900, help="seconds of GAN training per run (default 900, the quick profile)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="train for this many epochs instead of a wall-clock budget: equal images seen for every variant, whatever the machine's load")
    ap.add_argument("--snapshot-images", type=int, nargs="+", default=None,
                    help="also snapshot each unit when its images seen reach these counts (the quality-versus-images curve)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side, one torch thread each")
    ap.add_argument("--snapshots", type=int, default=5, help="generator snapshots per unit for the curve (0: none)")
    ap.add_argument("--n-gen", type=int, default=2000, help="generated crops for the final scores (and real train crops for the floor)")
    ap.add_argument("--n-snap", type=int, default=500, help="generated crops per snapshot for the curve")
    ap.add_argument("--data", default=None, help="folder holding <domain>/dev/<class>/*.png (default: CDE_SHARED_DATA)")
    ap.add_argument("--runs", default="/tmp/cde_quality", help="where the run directories go (outside the repository)")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--out", default=str(OUT), help="results JSON (the figure goes beside it, .png)")
    ap.add_argument("--no-raw", action="store_true", help="skip scoring the raw (non-EMA) generator (saves one feature pass per run)")
    ap.add_argument("--c2st-steps", type=int, default=600, help="training steps of the C2ST detector per run (0: no C2ST)")
    ap.add_argument("--add-c2st", action="store_true", help="add the C2ST to the rows of --out that lack it, from their run folders under --runs")
    ap.add_argument("--report", action="store_true", help="only print the table and redraw the figure from the results file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    OUT = Path(a.out)
    if a.worker:
        print(json.dumps(worker(json.loads(Path(a.worker).read_text())))[:2000], flush=True); return 0
    from cde.config import load_json, shared_data, git_state
    if a.add_c2st:
        res = load_json(OUT); add_c2st(res, Path(a.runs), a.c2st_steps or 600); merge(res["rows"], vars(a)); print(report(load_json(OUT))); return 0
    if a.report:
        res = load_json(OUT); print(report(res)); print(figure(res, OUT.with_suffix(".png"))); return 0
    from cde.run import resolve_config
    data = Path(a.data) if a.data else shared_data()
    named = dict(parse_variant(v) for v in a.variant)
    git = git_state(ROOT)  # the code as it is when the study starts: every row records it
    jobs = []
    budget = None if a.epochs else a.budget
    for dom in a.domains:
        for seed in a.seeds:  # seed-major: the runs side by side are different variants under the same load
            for var in a.variants:
                over = named.get(var, {"model": var})
                cfg = {"dataset": dom, "data_dir": str(data/dom/"dev"), "profile": a.profile, "size": 64, "seed": seed,
                       "device": "cpu", "num_threads": 1, "time_budget_s": budget, "snapshots": a.snapshots, **over}
                if a.epochs: cfg["epochs"] = a.epochs
                if a.snapshot_images: cfg["snapshot_images"] = a.snapshot_images
                resolve_config(dict(cfg))  # every option checked before any work, the error naming the key
                run = Path(a.runs)/(f"{dom}_{var}_e{a.epochs}_s{seed}" if a.epochs else f"{dom}_{var}_b{int(a.budget)}_s{seed}")
                jobs.append({"domain": dom, "variant": var, "seed": seed, "budget_s": budget, "epochs": a.epochs, "config": cfg,
                             "run_dir": str(run), "n_gen": a.n_gen, "n_snap": a.n_snap, "threads": 1, "git": git,
                             "raw": not a.no_raw, "c2st_steps": a.c2st_steps})
    real_features(jobs)
    print(f"{len(jobs)} runs, {a.jobs} at a time, " + (f"{a.epochs} epochs" if a.epochs else f"{a.budget:g} s") + f" of training each; commit {git['commit']} "
          f"(dirty {git['dirty']})", flush=True)
    procs, queue, rows = {}, list(jobs), []
    while queue or procs:
        while queue and len(procs) < a.jobs:
            j = queue.pop(0); Path(j["run_dir"]).mkdir(parents=True, exist_ok=True)
            spec = Path(j["run_dir"]).with_suffix(".job.json"); spec.write_text(json.dumps(j))
            log = open(Path(j["run_dir"]).with_suffix(".log"), "a")
            procs[j["run_dir"]] = (subprocess.Popen([sys.executable, __file__, "--worker", str(spec)], stdout=log,
                                                    stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"}), j)
            print(f"[{time.strftime('%H:%M:%S')}] started {j['domain']} {j['variant']} seed {j['seed']}", flush=True)
        time.sleep(5)
        for rd, (p, j) in list(procs.items()):
            if p.poll() is None: continue
            del procs[rd]
            if p.returncode != 0:
                print(f"[{time.strftime('%H:%M:%S')}] FAILED {j['domain']} {j['variant']} seed {j['seed']}: see {rd}.log", flush=True)
                continue
            row = scrub(load_json(Path(rd)/"quality_row.json"), data, a.runs); rows.append(row); res = merge([row], vars(a))
            e = row["final"].get("ema", row["final"].get("raw"))
            print(f"[{time.strftime('%H:%M:%S')}] done {j['domain']} {j['variant']} seed {j['seed']}: FID {e['fid']} "
                  f"P {e['precision']} R {e['recall']} (floor {row['floor']['fid']}, n {e['n_fake']}/{e['n_real']})", flush=True)
    res = load_json(OUT) if OUT.exists() else {"rows": []}
    print(report(res)); print(figure(res, OUT.with_suffix(".png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
