"""Result tables read from their files, never typed by hand: the README's and the docs' Table 1 and FID table
(`figures/table1.csv`, `figures/fid_table.csv`, `figures/reproduce.json`) and the measurements page (one section per
`bench/results/*.json`, each with the conditions it was measured under). Used by `tools/readme.py`, `nbs/index.ipynb`,
`nbs/bench.ipynb` and `tests/test_docs.py` (which checks that every number these print is in the file it names).
"""
from __future__ import annotations
import csv, json, math, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = "https://cde-project.github.io/cde"  # settings.ini: doc_host + doc_baseurl


# ---- formatting ----
def fmt(v, digits: int = 3) -> str:
    "A value as a table shows it: floats rounded to `digits` decimals at most (trailing zeros kept off), None as –."
    if v is None or (isinstance(v, float) and math.isnan(v)): return "–"
    if isinstance(v, bool): return "yes" if v else "no"
    if isinstance(v, float):
        s = f"{v:.{digits}f}"
        return s.rstrip("0").rstrip(".") if "." in s else s
    if isinstance(v, (list, tuple)): return ", ".join(fmt(x, digits) for x in v)
    if isinstance(v, dict): return ", ".join(f"{k} {fmt(x, digits)}" for k, x in v.items())
    return str(v)


def md_table(header, rows) -> str:
    "A Markdown table."
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    return "\n".join(["| " + " | ".join(map(esc, header)) + " |", "|" + " --- |" * len(header)]
                     + ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows])


def git_text(records) -> str:
    "Commits and tree state of git records (`{'commit', 'dirty'}`), e.g. \"commit `8d4e1b5`, clean tree\"."
    if not records: return "commit not recorded"
    by = {}
    for r in records: by.setdefault((r.get("commit") or "")[:7], set()).add(r.get("dirty"))
    def state(ds):
        if None in ds: return "dirty flag not recorded"
        return "uncommitted changes" if True in ds else "clean tree"
    parts = [f"`{c}` ({state(ds)})" if c else "commit not recorded" for c, ds in by.items()]
    return ("commit " if len(parts) == 1 else "commits ") + ", ".join(parts)


def _git_records(obj) -> list:
    "Every git record in a result file: `provenance.git` / a row's `git`, or an old `environment.git_commit` (dirty flag unknown)."
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "git" and isinstance(v, dict) and "commit" in v: out.append({"commit": v["commit"], "dirty": v.get("dirty")})
            elif k == "git_commit" and isinstance(v, str): out.append({"commit": v, "dirty": None})
            elif k not in ("config", "cfg"): out += _git_records(v)
    elif isinstance(obj, list):
        for v in obj: out += _git_records(v)
    return out


def recorded_git(obj) -> list:
    "Every git record in a result file: `provenance.git` / a row's `git`, or an old `environment.git_commit` (dirty flag unknown). An `environment.git_commit` counts only where no record with a dirty flag names the same commit."
    out = _git_records(obj)
    known = {r["commit"] for r in out if r["dirty"] is not None}
    return [r for r in out if r["dirty"] is not None or r["commit"] not in known]


# ---- the paper's tables (figures/) ----
def _csv(path) -> list:
    with open(path, newline="") as f: return list(csv.DictReader(f))


def reproduce_conditions(root=ROOT) -> str:
    "How the committed figures were made, from `figures/reproduce.json`."
    r = json.loads((Path(root)/"figures"/"reproduce.json").read_text())
    prov = r.get("provenance", {})
    cfgs = prov.get("config", {}).get("run_configs", {})
    budgets = sorted({c.get("time_budget_s") for c in cfgs.values() if c.get("time_budget_s")})
    made = prov.get("made_utc", "date not recorded")
    return (f"`cde reproduce --profile {r['profile']}` (seed {r['seed']}, {r['jobs']} domains at a time"
            + (f", {fmt(budgets[0])} s of GAN training per domain" if len(budgets) == 1 else "")
            + f", {fmt(r['total_s'], 0)} s wall clock) at {git_text([prov['git']] if 'git' in prov else [])}, "
            f"{made[:10]}; " + (f"on {_env_text(r['environment'])} (`figures/reproduce.json`)" if r.get("environment") else "machine not recorded (`figures/reproduce.json`)"))


def fid_compact(root=ROOT) -> str:
    "The FID table, compact: FID with its interval beside the real-vs-real floor at the same n (and any C2ST column)."
    rows = _csv(Path(root)/"figures"/"fid_table.csv")
    extra = [k for k in rows[0] if "c2st" in k.lower()] if rows else []
    head = ["domain", "FID (95 % interval)", "real-vs-real floor", "n synthetic / real", "precision / recall", *extra, "paper FID"]
    body = [[r["domain"], f"{float(r['FID']):.1f} ({r['FID 95 % interval']})", f"{float(r['real-vs-real floor']):.1f}",
             f"{r['n synthetic']} / {r['n real (held out)']}", f"{r['precision']} / {r['recall']}", *[r[k] for k in extra], r["paper FID"]]
            for r in rows]
    return md_table(head, body)


def table1_compact(root=ROOT) -> str:
    "Table 1, compact: balanced accuracy per model and protocol, the paper's reported TSTR accuracy beside it."
    rows = _csv(Path(root)/"figures"/"table1.csv")
    protos = list(dict.fromkeys(r["Protocol"] for r in rows if r["Protocol"] != "baseline"))
    label = lambda p: (p.replace("imbalance_real_", "imbalance: real ").replace("imbalance_restored_", "imbalance: restored ")
                       if p.startswith("imbalance") else p.upper() if p in ("tstr", "trtr") else p)
    head = ["Model", *map(label, protos), "paper (TSTR accuracy)"]
    body = []
    for m in dict.fromkeys(r["Model"] for r in rows):
        mine = {r["Protocol"]: r for r in rows if r["Model"] == m}
        if "baseline" in mine:
            body.append([m, *[f"{float(mine['baseline']['Balanced accuracy']):.1f}"] * len(protos), "–"]); continue
        paper = next((r["Paper accuracy"] for r in mine.values() if r.get("Paper accuracy")), "")
        body.append([m, *[f"{float(mine[p]['Balanced accuracy']):.1f}" if p in mine else "–" for p in protos], paper or "–"])
    return md_table(head, body)


def table1_caption(root=ROOT) -> str:
    "Table 1's test set and the computed verdicts on the paper's two claims, from `figures/table1.csv` and `figures/table1.md`."
    rows = _csv(Path(root)/"figures"/"table1.csv")
    md = (Path(root)/"figures"/"table1.md").read_text()
    claims = [l for l in md.splitlines() if l.startswith("- ") and " of " in l and "models" in l]
    cfgs = json.loads((Path(root)/"figures"/"reproduce.json").read_text()).get("provenance", {}).get("config", {}).get("run_configs", {})
    dom = next((d for d, c in cfgs.items() if len(c.get("classes", [])) > 1), "the labelled domain")
    return (f"Balanced accuracy (%) on {rows[0]['n test']} held-out real {dom} crops, {rows[0]['input px']} px input; "
            "restored = the shrunk class refilled with synthetic crops. The paper reports accuracy, not balanced accuracy. "
            "Do the paper's claims hold?\n\n" + "\n".join(claims))


def seg_compact(root=ROOT) -> str | None:
    "The segmentation table, compact (`figures/table_seg.csv`: Dice with its interval and the DSB instance score per arm, arms as columns) and the computed statement under `figures/table_seg.md`; None when the committed figures have none."
    f = Path(root)/"figures"/"table_seg.csv"
    if not f.exists(): return None
    rows = _csv(f); few = next((r for r in rows if r["arm"] == "few_real"), None)
    body = [[label, *[r[k] for r in rows]] for label, k in (("Dice (95 % interval)", "Dice"), ("DSB instance score", "DSB score"))]
    said = [l[2:] for l in (Path(root)/"figures"/"table_seg.md").read_text().splitlines() if l.startswith("- ")]
    pairs = f"{rows[0]['training pairs']} real training pairs" + (f", few_real {few['training pairs']}" if few else "")
    return (f"**Segmentation** (`figures/table_seg.csv`, nuclei): U-Nets trained per arm, tested on {rows[0]['test crops']} held-out real "
            f"crops ({pairs}), mean of {rows[0]['seeds']} seeds, intervals by source field and seed. " + " ".join(said) + "\n\n"
            + md_table(["arm", *[r["arm"] for r in rows]], body))


# ---- the measurements page (bench/results/*.json) ----
def _env_text(env: dict) -> str:
    if not env: return "machine not recorded"
    bits = [env.get("cpu"), f"{env['cpu_count']} CPU cores" if "cpu_count" in env else None,
            "bf16 units" if env.get("cpu_bf16_units") else None,
            f"{env['torch_threads']} torch thread(s)" if "torch_threads" in env else None,
            f"device {env['device']}" if "device" in env else None, f"torch {env['torch']}" if "torch" in env else None,
            env.get("platform")]
    return ", ".join(b for b in bits if b)


def conditions(d: dict, name: str) -> str:
    "The conditions of a result file: its commit(s) and tree state, date, machine, and the file itself."
    prov = d.get("provenance", {})
    date = prov.get("made_utc") or d.get("finished") or d.get("started")
    dates = sorted({m.get("made_utc", "")[:10] for m in d.get("measurements", []) if m.get("made_utc")})
    when = date[:10] if date else ", ".join(dates) if dates else "date not recorded"
    env = d.get("environment") or {}
    machine = _env_text(env) if env else "; ".join(f"{m['label']}: {m['machine'].get('cpu')} ({m['machine'].get('cpu_count')} cores), "
                                                   f"nice {m['machine'].get('nice')}, load {fmt(m['machine'].get('loadavg_before'), 2)}"
                                                   for m in d.get("measurements", []) if m.get("machine")) or "machine not recorded"
    return f"**Conditions:** {git_text(recorded_git(d))}; {when}; {machine}. Source: `bench/results/{name}.json`."


def _scalar_table(rows: list, keys=None) -> str:
    "A table of the scalar fields of `rows` (every key any row has, in first-seen order, unless `keys`)."
    keys = keys or list(dict.fromkeys(k for r in rows for k, v in r.items() if not isinstance(v, (dict, list))))
    return md_table(keys, [[fmt(r.get(k)) for k in keys] for r in rows])


def _quality(d):
    "One row per trained variant: the final EMA (else raw) generator's metrics, the floor at the same n, images seen."
    rows = []
    for r in d["rows"]:
        fin = r["final"].get("ema") or r["final"].get("raw") or {}
        row = {"domain": r["domain"], "variant": r["variant"], "seed": r["seed"], "budget s": r["budget_s"], "epochs": r.get("epochs"),
               "images seen": r.get("images_seen"), "FID": fin.get("fid"), "precision": fin.get("precision"),
               "recall": fin.get("recall"), "n synthetic / real": f"{fin.get('n_fake')} / {fin.get('n_real')}",
               "floor FID": r.get("floor", {}).get("fid"), "generator": "EMA" if "ema" in r["final"] else "raw",
               "commit": (r.get("git") or {}).get("commit", "")[:7]}
        for k, v in {**r, **fin}.items():  # new measures (e.g. c2st) appear as they come
            if "c2st" in k.lower() and not isinstance(v, (dict, list)): row[k] = v
            elif "c2st" in k.lower() and isinstance(v, dict):
                row.update({f"{k} {kk}": vv for kk, vv in v.items() if not isinstance(vv, (dict, list))})
        rows.append(row)
    out = [_scalar_table(rows)]
    curves = [r for r in d["rows"] if r.get("curve")]
    if curves:
        out.append("Curve points (the run's generator evaluated at fixed points of its budget):")
        pts = [{"variant": r["variant"], "seed": r["seed"], **{k: v for k, v in p.items() if k != "k"}} for r in curves for p in r["curve"]]
        out.append(_scalar_table(pts))
    return out


def _metrics(d):
    rows = [{"domain": dom, "n": v["n"], "n asked": v.get("n_asked"), "FID floor": v["fid"], "KID": v.get("kid"),
             "split": v.get("split"), "dev crops": v.get("dev_crops"), "seconds": v.get("seconds")}
            for dom, ns in d.get("floors", {}).items() for v in ns.values()]
    out = ["Real-vs-real FID floor (two halves of the dev crops cut by source):", _scalar_table(rows)]
    if "throughput" in d: out += ["Inception feature throughput:", _scalar_table([d["throughput"]])]
    return out


def _fid_budget(d):
    rows = [{"domain": r["domain"], "model": r["model"], "seed": d.get("seed"), "budget s": r["budget_s"],
             "steps": fmt(r.get("steps")), "FID": r["fid"],
             "n synthetic / real": f"{r['n_fake']} / {r['n_real']}", "train s": r.get("train_wall_s")} for r in d["results"]]
    return [_scalar_table(rows)]


def _cli_help(d):
    notes = [f"{m['label']}: {m['note']}." for m in d["measurements"] if m.get("note")]
    rows = [{"label": m["label"], "call": f"{r['form']} {r['args']}", "median s": r["median_s"], "min s": r["min_s"],
             "max s": r["max_s"], "runs": r["n"], "nice": m["machine"].get("nice")} for m in d["measurements"] for r in m["rows"]]
    return [f"Requirement: {d.get('requirement', '')}.", *notes, _scalar_table(rows)]


def _curate(d):
    rows = [{"domain": k, **{kk: vv for kk, vv in v.items() if not isinstance(vv, (dict, list))},
             **{f"removed {kk}": vv for kk, vv in v.get("removed", {}).items()}} for k, v in d["domains"].items()]
    return [_scalar_table(rows)]


def _classify_fit(d):
    "One row per training recipe and model: balanced accuracy and AUROC as seed means (95 % interval by source field; seed sd), steps, seconds."
    ci = lambda m: f"{fmt(m['value'], 1)} ({fmt(m['lo'], 1)}–{fmt(m['hi'], 1)})"
    rows = [{"variant": r["variant"], "model": r["model"], "balanced accuracy": ci(r["balanced_accuracy"]),
             "BA seed sd": fmt(r["balanced_accuracy"]["sd"], 1) if len(r["seeds"]) > 1 else "–", "AUROC": ci(r["auroc"]),
             "steps": fmt(r["steps"]), "s per model": fmt(r["wall_s_per_model"], 1), "seeds": ", ".join(map(str, r["seeds"])),
             "did not fit": r["did_not_fit"],
             "n train / val / test": f"{r['n_train']} / {r['n_val']} / {r['n_test']}", "px": r["size"]} for r in d["rows"]]
    runs = [{"variant": k, "threads": v.get("threads"), "workers": v["config"].get("workers", 1), "load before": fmt(v.get("loadavg_before", [None])[0], 2),
             "wall s": v.get("wall_s"), **{kk: v["config"].get(kk) for kk in ("max_steps", "budget_s", "lr", "batch_size", "schedule",
                                                                               "balance", "select", "val_every")}}
            for k, v in d.get("runs", {}).items()]
    return [_scalar_table(rows), "Training settings and machine load of each variant:", _scalar_table(runs)]


def _classify_stage(d):
    "Per variant: the stage's wall time and workers, then one row per arm and model (seed means, 95 % interval by source field, seed sd)."
    ci = lambda m: f"{fmt(m['value'], 1)} ({fmt(m['lo'], 1)}–{fmt(m['hi'], 1)})"
    runs = [{"variant": k, "wall min": v["wall_min"], "workers": v["workers"], "threads per worker": v["worker_threads"],
             "cores": v["cpu_count"], "CPU": v.get("cpu_model") or "–", "bf16 autocast": len(v.get("bf16_models") or []) or "–",
             "steps": v["max_steps"], "seeds": len(v["seeds"] or [])} for k, v in d["variants"].items()]
    out = [_scalar_table(runs)]
    for k, v in d["variants"].items():
        out += [f"Cells of `{k}`:", _scalar_table([{"arm": r["arm"], "model": r["model"], "balanced accuracy": ci(r["balanced_accuracy"]),
                                                    "BA seed sd": fmt(r["balanced_accuracy"]["sd"], 1), "AUROC": ci(r["auroc"]),
                                                    "did not fit": r["did_not_fit"], "s per fit": fmt(r["wall_s_per_fit"], 1),
                                                    "n real / synth. / test": f"{r['n_real']} / {r['n_synthetic']} / {r['n_test']}"}
                                                   for r in v["rows"]])]
    return out


def _segment(d):
    "Per variant: its pair runs and U-Net settings, then one row per arm (Dice / IoU / DSB score in %, seed means, 95 % interval by source field and seed), the claims."
    ci = lambda m: f"{fmt(m['value'], 1)} ({fmt(m['lo'], 1)}–{fmt(m['hi'], 1)})"
    out = []
    for k, v in d["variants"].items():
        out += [f"Variant `{k}`: U-Nets {v['config']['max_steps']} steps, {len(v['arms'][0]['seeds'])} seeds, {fmt(v['wall_min'])} min; "
                f"TSTR / TRTR Dice {v['tstr_over_trtr_dice']}; mask fit (real-trained U-Nets on the synthetic pairs) "
                f"{ci(v['mask_fit']) if v.get('mask_fit') else '–'}; few_real_synthetic adds pairs of {v.get('few_synthetic') or 'the tstr generator'}.",
                _scalar_table(v["pair_runs"]) if v["pair_runs"] else "",
                _scalar_table([{"arm": r["arm"], "training pairs": r["n_train"], "Dice": ci(r["dice"]), "Dice seed sd": fmt(r["dice"]["sd"], 1),
                                "IoU": ci(r["iou"]), "DSB score": ci(r["instance_ap"]), "test crops": r["n_test"]} for r in v["arms"]]),
                _scalar_table([{"claim": c["claim"], "arms": f"{c['arm']} − {c['control']}", "Dice difference": ci(c["dice_difference"]),
                                "verdict": c["verdict"]} for c in v["claims"]])]
    return out


RENDER = {"metrics": _metrics, "fid_budget": _fid_budget, "cli_help": _cli_help, "curate": _curate, "classify_fit": _classify_fit,
          "classify_stage": _classify_stage, "segment": _segment}


def bench_section(path) -> str:
    "The Markdown of one result file: a heading, its conditions and its tables, every number read from the file."
    path = Path(path); d = json.loads(path.read_text()); name = path.stem
    out = [f"## {name}", f"*{d['what']}*" if d.get("what") else "", conditions(d, name)]
    if name.startswith("quality"): out += _quality(d)
    elif name in RENDER: out += RENDER[name](d)
    else:
        for k in ("rows", "results"):
            if isinstance(d.get(k), list) and d[k] and isinstance(d[k][0], dict): out.append(_scalar_table(d[k]))
    if d.get("note"): out.append(f"Note: {d['note']}")
    return "\n\n".join(o for o in out if o)


def bench_files(root=ROOT) -> list:
    "The result files of the measurements page, sorted by name."
    return sorted((Path(root)/"bench"/"results").glob("*.json"))


# ---- checking quoted numbers ----
NUMBER = re.compile(r"(?<![\w.])[-−+]?\d+(?:\.\d+)?(?![\w])")


def prose_numbers(md: str) -> list:
    "Numbers in Markdown text outside code blocks, code spans, link targets and HTML tags (where commits, paths and URLs live)."
    md = re.sub(r"```.*?```", " ", md, flags=re.S)
    md = re.sub(r"`[^`]*`", " ", md)
    md = re.sub(r"\]\([^)]*\)", "]", md)
    md = re.sub(r"<[^>]*>", " ", md)
    return [m.group().replace("−", "-").lstrip("+") for m in NUMBER.finditer(md)]


def file_numbers(path) -> set:
    "Every number in a result file's text, with what a table may show of it: roundings to 0–3 decimals, × 100 (percent)."
    vals = set()
    for s in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", Path(path).read_text()):
        v = abs(float(s)); vals |= {round(v, d) for d in range(4)} | {round(100 * v, d) for d in range(2)}
    return vals


def unquoted(md: str, sources) -> list:
    "The numbers in `md` that none of the `sources` holds (at the precision `md` shows them)."
    have = set().union(*(file_numbers(s) for s in sources))
    return [n for n in prose_numbers(md) if round(abs(float(n)), len(n.split(".")[1]) if "." in n else 0) not in have]
