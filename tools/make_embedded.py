"""Build the embedded default domain `sample`: a CC0 subset of DSB2018 (BBBC038) nuclei crops shipped inside the package.

Usage: python tools/make_embedded.py SHARED_NUCLEI_DIR [--n 1400]

SHARED_NUCLEI_DIR holds `meta.csv`, `dev/nucleus/*.png` (64 px grayscale crops, one per annotated nucleus of
Kaggle DSB2018 stage1_train, licence CC0-1.0) and `dev_masks/nucleus/*.png` (the instance labels of every annotated
nucleus in each crop's window, 0 = background). Crops are taken round-robin over the source fields (fields in a
seeded random order, crops of a field in file order), so the subset spans as many fields as possible. The
output is one mosaic PNG of the crops (40 per row), one of their masks in the same places, and a CSV of
(index, file, source_image), written to cde/embedded/.
Rerunning it on the same input rewrites the same bytes.
"""
import argparse, csv, hashlib
from pathlib import Path
import numpy as np
from PIL import Image

COLS, SIZE = 40, 64
OUT = Path(__file__).resolve().parents[1]/"cde"/"embedded"

def pick(rows: list, n: int, seed: int = 0) -> list:
    "Round-robin over source fields (seeded order): at most ceil(n / fields) crops per field."
    by = {}
    for r in rows: by.setdefault(r["source_image"], []).append(r)
    fields = sorted(by); np.random.default_rng(seed).shuffle(fields)
    out, k = [], 0
    while len(out) < n and any(len(by[f]) > k for f in fields):
        out += [by[f][k] for f in fields if len(by[f]) > k][: n - len(out)]; k += 1
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nuclei_dir", type=Path); ap.add_argument("--n", type=int, default=1400)
    a = ap.parse_args()
    rows = [r for r in csv.DictReader(open(a.nuclei_dir/"meta.csv")) if r["licence"] == "CC0-1.0"]
    rows = pick(sorted(rows, key=lambda r: r["file"]), a.n)
    crops = [np.asarray(Image.open(a.nuclei_dir/r["file"]).convert("L")) for r in rows]
    masks = [np.asarray(Image.open(a.nuclei_dir/"dev_masks"/Path(r["file"]).relative_to("dev"))) for r in rows]
    assert all(c.shape == m.shape == (SIZE, SIZE) and m.dtype == np.uint8 for c, m in zip(crops, masks))
    rows_n = -(-len(crops) // COLS)
    mosaic = np.zeros((rows_n * SIZE, COLS * SIZE), np.uint8)
    for i, c in enumerate(crops): mosaic[i // COLS * SIZE:(i // COLS + 1) * SIZE, i % COLS * SIZE:(i % COLS + 1) * SIZE] = c
    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mosaic).save(OUT/"dsb2018_nuclei.png", optimize=True)
    labels = np.zeros_like(mosaic)
    for i, m in enumerate(masks): labels[i // COLS * SIZE:(i // COLS + 1) * SIZE, i % COLS * SIZE:(i % COLS + 1) * SIZE] = m
    Image.fromarray(labels).save(OUT/"dsb2018_nuclei_masks.png", optimize=True)
    with open(OUT/"dsb2018_nuclei.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["index", "file", "source_image"])
        for i, r in enumerate(rows): w.writerow([i, Path(r["file"]).name, r["source_image"].split("/")[1][:16]])
    print(f"{len(crops)} crops from {len({r['source_image'] for r in rows})} fields; mosaic "
          f"{(OUT/'dsb2018_nuclei.png').stat().st_size / 1e6:.2f} MB, sha256 "
          f"{hashlib.sha256((OUT/'dsb2018_nuclei.png').read_bytes()).hexdigest()[:16]}")

if __name__ == "__main__":
    main()
