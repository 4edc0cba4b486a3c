#!/usr/bin/env python3
"""patterns64.py: a small, reproducible 64-feature, 10-class CSV task laid out
like the UCI "optdigits" files (docs/tuning.md): every sample is a 32x32
binary bitmap downsampled to 8x8 by counting the set pixels of each 4x4
block, so the 64 features are integers 0..16, and the label (0..9) is the
last column; no header.  Class c is a fixed set of three random strokes;
a sample draws its class's strokes with each end point moved by up to 2
pixels, a thickness of 2 or 3 pixels and the whole bitmap shifted by up to
3 pixels, then flips 2 % of the pixels.  Standard library only.

usage: scripts/patterns64.py OUTDIR [N_TRAIN [N_TEST [SEED]]]
writes OUTDIR/train.csv and OUTDIR/test.csv (defaults: 2000, 500, seed 1).
"""
import os
import random
import sys


def prototypes(rng):
    return [[(rng.randrange(4, 28), rng.randrange(4, 28), rng.randrange(4, 28),
              rng.randrange(4, 28)) for _ in range(3)] for _ in range(10)]


def sample(rng, strokes):
    bm = [[0] * 32 for _ in range(32)]
    dx, dy = rng.randrange(-3, 4), rng.randrange(-3, 4)
    t = rng.choice((2, 3))
    for (r0, c0, r1, c1) in strokes:
        r0, c0 = r0 + rng.randrange(-2, 3) + dy, c0 + rng.randrange(-2, 3) + dx
        r1, c1 = r1 + rng.randrange(-2, 3) + dy, c1 + rng.randrange(-2, 3) + dx
        steps = max(abs(r1 - r0), abs(c1 - c0), 1)
        for s in range(steps + 1):
            r = r0 + (r1 - r0) * s // steps
            c = c0 + (c1 - c0) * s // steps
            for a in range(t):
                for b in range(t):
                    if 0 <= r + a < 32 and 0 <= c + b < 32:
                        bm[r + a][c + b] = 1
    for r in range(32):
        for c in range(32):
            if rng.random() < 0.02:
                bm[r][c] ^= 1
    return [sum(bm[4 * i + a][4 * j + b] for a in range(4) for b in range(4))
            for i in range(8) for j in range(8)]


def write(path, rng, protos, n):
    with open(path, "w") as f:
        for i in range(n):
            label = i % 10
            f.write(",".join(str(v) for v in sample(rng, protos[label])))
            f.write(",%d\n" % label)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    n_train = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    n_test = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rng = random.Random(seed)
    protos = prototypes(rng)
    os.makedirs(outdir, exist_ok=True)
    write(os.path.join(outdir, "train.csv"), rng, protos, n_train)
    write(os.path.join(outdir, "test.csv"), rng, protos, n_test)


if __name__ == "__main__":
    main()
