#!/usr/bin/env python3
"""How exactly can crackle density k be known from the ticks one can hear?

GRADING.md's k counts every impulse from L - 50 dB up to L - 10 dB. The
simulator (vinylmon.simulate.spec.CrackleSpec as the corpus and the measures'
training draw it) places crackle ticks between a lower level drawn in -48..-35 dB
re L and an upper one in -16..-11 dB, skewed to the quiet end (beta(1, 2.5)).
Under music, only the loud end can be heard. Suppose a detector counted *every*
tick above ``T`` dB re L, exactly and without Poisson noise, and scaled the count
by the typical share above ``T``: this prints how often that estimate lands
within +-25 % of the true k, for several ``T``. It bounds any estimator that sees
only ticks above ``T`` and does not learn the level distribution from them.

    python scripts/k_observability.py
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta

LO_DB = (-48.0, -35.0)
HI_DB = (-16.0, -11.0)
SHAPE = (1.0, 2.5)


def main() -> int:
    rng = np.random.default_rng(0)
    lo = rng.uniform(*LO_DB, 20000)
    hi = rng.uniform(*HI_DB, 20000)
    print("| ticks counted above (dB re L) | typical share counted | estimates within +-25 % |")
    print("|---|---|---|")
    for t in (-40.0, -35.0, -30.0, -25.0, -20.0):
        share = 1.0 - beta.cdf(np.clip((t - lo) / (hi - lo), 0.0, 1.0), *SHAPE)
        ratio = share / np.median(share)
        print(f"| {t:.0f} | {np.median(share):.3f} | {np.mean(np.abs(ratio - 1) <= 0.25):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
