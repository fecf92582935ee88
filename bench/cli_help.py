"""How fast the `cde` command answers `--help`: `cde --help` and `cde COMMAND --help` for every command.

Each call runs in a new process (`python -m cde.cli ...` of this checkout, and the `cde` console script for the
top-level help), `--repeats` times; the median and the spread are recorded with the load average before and after,
the process priority (`nice`), the CPU and the git commit and dirty flag of the code (`provenance`).

Usage: nice -n 19 python bench/cli_help.py [--repeats 5] [--label after]
Writes bench/results/cli_help.json: one measurement per label (`before` = the code before the lazy imports of
issue 24, `after` = this code); a new run of a label replaces that label's measurement and keeps the others.
"""
import argparse, json, os, platform, shutil, statistics, subprocess, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/"bench"/"results"/"cli_help.json"


def cpu_model() -> str:
    "The CPU's model name (Linux), else the platform's processor string."
    try: return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration): return platform.processor() or "unknown"


def timed(cmd, env) -> tuple:
    "Wall-clock seconds of one process run and its exit code and stdout."
    t = time.perf_counter(); r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - t, r.returncode, r.stdout


def commands(env) -> list:
    "The command names the top-level help lists (read from its output, so nothing here imports cde)."
    _, rc, out = timed([sys.executable, "-m", "cde.cli", "--help"], env)
    if rc: sys.exit(f"cde --help failed ({rc})")
    return [l.split()[0] for l in out.split("commands:", 1)[1].splitlines() if l.startswith("  ") and l.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="runs of each call (median recorded; default 5)")
    p.add_argument("--label", default="after", help="name of this measurement (default after)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--note", default="", help="a remark stored with the measurement (e.g. what the tree held)")
    a = p.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}  # this checkout's cde
    calls = [["--help"]] + [[c, "--help"] for c in commands(env)]
    forms = [("python -m cde.cli", [sys.executable, "-m", "cde.cli"], calls)]
    if shutil.which("cde"): forms.append(("cde", [shutil.which("cde")], [["--help"]]))  # the console script (entry point)
    load0, rows = os.getloadavg(), []
    for form, prefix, cs in forms:
        for c in cs:
            ts = []
            for _ in range(a.repeats):
                s, rc, _ = timed(prefix + c, env)
                if rc: sys.exit(f"{form} {' '.join(c)} failed ({rc})")
                ts.append(s)
            rows.append({"form": form, "args": " ".join(c), "median_s": round(statistics.median(ts), 3),
                         "min_s": round(min(ts), 3), "max_s": round(max(ts), 3), "n": len(ts)})
            print(f"{form + ' ' + ' '.join(c):<40} median {rows[-1]['median_s']:.3f} s  (min {rows[-1]['min_s']:.3f}, max {rows[-1]['max_s']:.3f})", flush=True)
    from cde.config import save_json, provenance  # after the timings: nothing measured shares this process
    machine = {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
               "nice": os.nice(0), "loadavg_before": [round(x, 2) for x in load0],
               "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
    prov = provenance(vars(a), ROOT)
    entry = {"label": a.label, **({"note": a.note} if a.note else {}), "rows": rows, "machine": machine, "git": prov["git"], "config": prov["config"],
             "made_utc": prov["made_utc"], "slowest_median_s": max(r["median_s"] for r in rows)}
    old = json.loads(Path(a.out).read_text()).get("measurements", []) if Path(a.out).exists() else []
    res = {"what": "wall-clock seconds until `cde --help` / `cde COMMAND --help` returns, each in a new process (bench/cli_help.py)",
           "requirement": "every median under 1 s on a quiet CPU",
           "measurements": [m for m in old if m["label"] != a.label] + [entry], "provenance": prov}
    save_json(res, a.out)
    print(f"slowest median {entry['slowest_median_s']:.3f} s; load {machine['loadavg_before']} → {machine['loadavg_after']}; wrote {a.out}")


if __name__ == "__main__":
    main()
