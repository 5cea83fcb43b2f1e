#!/usr/bin/env python3
"""Real turntable noise next to simulated damage, at the same scale.

Left: real recordings from ../shared/data/noise/vinyl. Right: the simulator's
crackle, clicks and a repeating scratch on a groove-noise bed. Each clip is
scaled so its non-impulsive bed has the same RMS, then shown as a spectrogram
(same dB range, same axes) over its waveform. Look at it; tune the simulator
until the columns are hard to tell apart.

    python scripts/figure_sim_vs_real.py [--out docs/sim_vs_real.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from vinylmon.simulate import (  # noqa: E402
    ClickSpec,
    CrackleSpec,
    DamageSpec,
    NoiseBank,
    NoiseSpec,
    ScratchSpec,
    simulate,
)
from vinylmon.simulate import noise as nz  # noqa: E402

SR = 44100
SECONDS = 6.0
BED_DB = -40.0  # every clip's non-impulsive bed is scaled to this RMS (dBFS)


def bed_scaled(x: np.ndarray) -> np.ndarray:
    mask = nz.impulse_mask(nz.find_impulses(x, SR), x.shape[1])
    return nz.set_rms(x, BED_DB + (nz.rms_db(x) - nz.rms_db(x[:, mask])))


def simulated(bank: NoiseBank, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = int(SECONDS * SR)
    # the "program" here is groove noise itself (a run-out groove): L = the bed
    groove = nz.shaped_noise(rng, frames, sample_rate=SR, shape_db=bank.hiss_shape_db()) * 0.01
    specs = {
        # peaks over the bed as measured on the real beds: crackle +2..+17 dB
        # (median per recording), up to +30 dB at the 90th percentile
        "crackle": DamageSpec(seed=seed, crackle=CrackleSpec(rate_per_s=100, peak_db=(2, 26))),
        "clicks": DamageSpec(seed=seed, clicks=ClickSpec(rate_per_min=240, peak_db=(18, 34)),
                             crackle=CrackleSpec(rate_per_s=40, peak_db=(4, 20))),
        "scratch": DamageSpec(seed=seed, scratches=(ScratchSpec(0.4, 4, 26.0),),
                              crackle=CrackleSpec(rate_per_s=120, peak_db=(4, 22)),
                              noise=NoiseSpec(rumble_db=-6, rumble_hz=20)),
    }
    d = simulate(groove, specs[kind], bank=bank)
    return bed_scaled(d.audio.astype(np.float64))


def real(bank: NoiseBank, name: str, offset_s: float) -> np.ndarray:
    rec = next(r for r in bank.recordings("vinyl") if r.name.startswith(name))
    s = int(offset_s * SR)
    return bed_scaled(rec.samples[:, s:s + int(SECONDS * SR)])


def tick_stats(x: np.ndarray) -> dict:
    """Impulse statistics measured the same way on real and simulated clips."""
    n = x.shape[1] // 1024 * 1024
    x = x[:, :n]
    imps = nz.find_impulses(x, SR)
    mask = nz.impulse_mask(imps, n)
    bed = nz.rms_db(x[:, mask])
    peaks = np.array([20 * np.log10(i.peak) for i in imps]) - bed
    e90, cent = [], []
    f = np.fft.rfftfreq(256, 1 / SR)
    for i in imps[:400]:
        s = x[0 if i.channel is None else i.channel, i.start:i.end]
        en = np.sort(s**2)[::-1]
        e90.append(np.searchsorted(np.cumsum(en) / en.sum(), 0.9) + 1)
        if len(s) >= 16:
            spec = np.abs(np.fft.rfft(s * np.hanning(len(s)), 256)) ** 2
            cent.append((spec * f).sum() / spec.sum())
    floor = np.median(np.abs(np.fft.rfft(x[0].reshape(-1, 1024) * np.hanning(1024))) ** 2,
                      axis=0)
    fb = np.fft.rfftfreq(1024, 1 / SR)
    tilt = 10 * np.log10(floor[(fb > 8000) & (fb < 12000)].mean()
                         / floor[(fb > 500) & (fb < 2000)].mean())
    return {"ticks_per_s": len(imps) / (n / SR), "peak_over_bed_db": float(np.median(peaks)),
            "energy_span_samples": float(np.median(e90)),
            "centroid_khz": float(np.median(cent)) / 1000, "floor_10k_vs_1k_db": float(tilt),
            "both_channels": float(np.mean([i.channel is None for i in imps]))}


def panel(fig, gs, x: np.ndarray, title: str) -> None:
    ax = fig.add_subplot(gs[0])
    f, t, s = signal.spectrogram(x[0], fs=SR, nperseg=512, noverlap=384)
    ax.pcolormesh(t, f / 1000, 10 * np.log10(s + 1e-20), vmin=-130, vmax=-60, cmap="magma",
                  shading="auto", rasterized=True)
    ax.set_ylim(0, 20)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("kHz", fontsize=8)
    ax.set_xticks([])
    ax2 = fig.add_subplot(gs[1])
    ax2.plot(np.arange(x.shape[1]) / SR, x[0], lw=0.3, color="k")
    ax2.set_ylim(-0.3, 0.3)
    ax2.set_xlim(0, SECONDS)
    ax2.set_xlabel("s", fontsize=8)
    ax2.tick_params(labelsize=7)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/sim_vs_real.png"))
    ap.add_argument("--noise-dir", type=Path, default=None)
    args = ap.parse_args()
    bank = NoiseBank(args.noise_dir)
    rows = [
        ("crackle", real(bank, "vinyl4", 0.0), "real: vinyl4 crackle",
         simulated(bank, "crackle", 1),
         "simulated: crackle (100/s, the corpus maximum) on groove noise"),
        ("clicks", real(bank, "vinyl3", 2.0), "real: vinyl3 dust", simulated(bank, "clicks", 2),
         "simulated: clicks and pops (240/min) + crackle (40/s)"),
        ("scratch", real(bank, "vinyl1", 0.0), "real: vinyl1 run-off, tick every ~1.75 s",
         simulated(bank, "scratch", 3), "simulated: repeating scratch at 33 1/3 rpm (1.8 s)"),
    ]
    fig = plt.figure(figsize=(12, 10))
    outer = fig.add_gridspec(3, 2, hspace=0.35, wspace=0.15)
    for r, (_, rx, rt, sx, st) in enumerate(rows):
        for c, (x, title) in enumerate(((rx, rt), (sx, st))):
            gs = outer[r, c].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.05)
            panel(fig, gs, x, title)
    fig.suptitle(f"Real (left) vs simulated (right); beds scaled to {BED_DB:.0f} dBFS RMS, "
                 "left channel, spectrogram -130..-60 dB", fontsize=10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    print("\nImpulses measured alike (find_impulses; medians):")
    print(f"{'clip':34s} {'ticks/s':>7} {'peak-bed dB':>11} {'span smp':>8} {'centroid':>8} "
          f"{'floor 10k/1k':>12} {'both ch':>7}")
    clips = [(f"real {r.name}", r.samples) for r in bank.recordings("vinyl")]
    clips += [(f"simulated {k}", x) for k, _, _, x, _ in rows]
    for name, x in clips:
        s = tick_stats(x)
        print(f"{name[:34]:34s} {s['ticks_per_s']:7.0f} {s['peak_over_bed_db']:11.1f} "
              f"{s['energy_span_samples']:8.0f} {s['centroid_khz']:7.1f}k "
              f"{s['floor_10k_vs_1k_db']:10.1f} dB {s['both_channels']:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
