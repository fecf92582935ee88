"""Benchmark of cde.classify: training-step time and evaluation throughput of the five architectures.

Usage: python bench/classify.py [--sizes 32 48 64] [--batch 32] [--threads 1 2] [--steps 5] [--channels 3] [--channels-last] [--fused] [--bf16]
       [--out FILE]
Prints a table and writes bench/results/classify.json. Times are per training step (forward, backward, AdamW) on
random input, median of `--steps` steps after one warm-up step; InceptionV3 resizes its input to 75 px inside the
model, so its cost does not depend on the crop size below 75 px. On a shared CPU the numbers are noisy: the load
average before and after is recorded beside them, and the git commit, dirty flag and arguments (`provenance`).
"""
import argparse, itertools, os, time
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
ROOT = Path(__file__).resolve().parents[1]
from cde.config import save_json, environment_info, provenance
from cde.networks import ARCHITECTURES, build_classifier, n_params


def step_times(arch, size, batch, channels, steps, channels_last=False, fused=False, bf16=False):
    "Median training-step time and evaluation images/s for one architecture and crop size (optionally channels-last tensors, a fused AdamW, the forward under bf16 autocast as cde.fitting on a CPU with bf16 units)."
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    m = build_classifier(arch, 2, channels).to(memory_format=fmt); opt = torch.optim.AdamW(m.parameters(), 1e-3, fused=fused)
    x, y = (torch.rand(batch, channels, size, size) * 2 - 1).contiguous(memory_format=fmt), torch.randint(0, 2, (batch,))
    ts = []
    m.train()
    for _ in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16): out = m(x).float()
        loss = F.cross_entropy(out, y); opt.zero_grad(); loss.backward(); opt.step()
        ts.append(time.perf_counter() - t)
    m.eval(); xe = (torch.rand(4 * batch, channels, size, size) * 2 - 1).contiguous(memory_format=fmt)
    with torch.no_grad():
        m(xe[:batch]); t = time.perf_counter(); m(xe); te = time.perf_counter() - t
    st = float(np.median(ts[1:]))
    return {"arch": arch, "size": size, "batch": batch, "channels": channels, "channels_last": channels_last, "fused": fused, "bf16": bf16,
            "params": n_params(m),
            "step_s": round(st, 4), "train_img_s": round(batch / st, 1), "eval_img_s": round(len(xe) / te, 1)}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--archs", nargs="+", default=list(ARCHITECTURES))
    p.add_argument("--sizes", nargs="+", type=int, default=[32, 48, 64])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--channels-last", action="store_true", help="channels-last (NHWC) model and inputs, as cde.fitting trains")
    p.add_argument("--fused", action="store_true", help="a fused AdamW, as cde.fitting trains")
    p.add_argument("--bf16", nargs="+", type=int, default=[0], choices=[0, 1], help="fp32 (0) and/or the forward under CPU bf16 autocast (1)")
    p.add_argument("--out", default=str(ROOT/"bench"/"results"/"classify.json"))
    a = p.parse_args(argv)
    rows, load0, prov = [], os.getloadavg(), provenance(vars(a), ROOT)  # the code as it is when the run starts
    from cde.config import cpu_bf16_supported
    if 1 in a.bf16 and not cpu_bf16_supported(): p.error("--bf16 1: this CPU has no bf16 units (amx_bf16 / avx512_bf16)")
    print(f"{'arch':<16}{'px':>4}{'thr':>4}{'step s':>9}{'train img/s':>13}{'eval img/s':>12}{'params M':>10}")
    for th in a.threads:
        torch.set_num_threads(th)
        for arch, s, b in itertools.product(a.archs, a.sizes, a.bf16):
            r = {**step_times(arch, s, a.batch, a.channels, a.steps, a.channels_last, a.fused, bool(b)), "threads": th}
            rows.append(r)
            print(f"{arch + (' bf16' if b else ''):<16}{s:>4}{th:>4}{r['step_s']:>9.3f}{r['train_img_s']:>13.1f}{r['eval_img_s']:>12.1f}{r['params'] / 1e6:>10.1f}", flush=True)
    save_json({"environment": environment_info("cpu"), "loadavg_before": load0, "loadavg_after": os.getloadavg(),
               "settings": prov["config"], "rows": rows, "provenance": prov}, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
