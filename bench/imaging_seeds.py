"""Spread of the imaging chapter's headline numbers over seeds (issue 14): the U-Net's held-out Neurofinder F1 and
pixel accuracy (page 2), the best patch network's jittered 10-fold accuracy (page 3) and the pipeline's F1 (page 4),
each rerun with ``seed`` = 0, 1, 2, ... in the chosen profile, with the pages' own library calls and settings.

    PYTHONPATH=. python bench/imaging_seeds.py --profile cpu --seeds 0 1 2 [--skip-pipeline]

Prints one row per seed and the mean and sample sd, and writes them as JSON (``--out``). Fitted networks are cached
(:mod:`neuro_lib.cache`), so seed 0 reuses the book's own run. Numbers of the book come from its pages; this script
reports how much they move with the seed.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def run(profile: str, seeds: list[int], pipeline: bool = True) -> dict:
    from neuro_lib import profiles
    from neuro_lib.evaluation import kfold_splits
    from neuro_lib.imaging import centers_metric, chapter, pixel_accuracy, probability_target
    from neuro_lib.imaging.data import cached_summary, load_book_movie, network_input, patch_image
    from neuro_lib.imaging.patches import (book_patch_dataset, cross_validate_cached, pretrained_trunk,
                                           random_patch_centres)
    from neuro_lib.imaging.detection import extract_patches
    from neuro_lib.imaging.pipeline import run_pipeline
    from neuro_lib.imaging.segmentation import cross_quadrant_unet

    cfg = chapter.settings(profile)
    rt = profiles.runtime(profile, "cpu", None, default_threads=cfg["threads"])
    data = load_book_movie()
    summary = cached_summary(data)
    labels = data.labels()
    mask, truth = labels > 0, data.centroids()
    image, target, rgb = network_input(summary), probability_target(labels, 1.0), patch_image(summary)
    rows = []
    for seed in seeds:
        t0 = time.time()
        res = cross_quadrant_unet(chapter.unet_segmenter(cfg, device=rt.device), image, target, seed=seed, mask=mask,
                                  truth=truth, progress=False)
        row = {"seed": seed, "unet_f1": centers_metric(truth, res.centroids)["f1"],
               "unet_pixel_accuracy": pixel_accuracy(res.pred, mask)}
        ds = book_patch_dataset(rgb, data, summary["corr"], summary["mean"], size=cfg["patch_size"], jitter=2,
                                seed=seed, n_patches=cfg["n_patches"])
        unl = extract_patches(rgb, random_patch_centres(rgb.shape[1:], cfg["ae_patches"],
                                                        np.random.default_rng(seed)), cfg["patch_size"])
        trunk = pretrained_trunk("resnet18", unl, input_size=cfg["input_size"]["resnet18"], epochs=cfg["ae_epochs"],
                                 seed=seed)
        net = chapter.patch_network(cfg, "resnet18", "conv1", weights=str(trunk["path"]), device=rt.device)
        cv, _ = cross_validate_cached("resnet18_conv1_autoencoder", net, ds["x"], ds["y"],
                                      kfold_splits(ds["y"], cfg["n_splits"], seed=seed), seed=seed)
        row["patch_accuracy"] = cv.summary()["accuracy"]
        if pipeline:
            pipe = run_pipeline(chapter.pipeline_classifier(cfg, device=rt.device), res, truth, rgb,
                                size=cfg["patch_size"], thresholds=[0.5 * t["peak"] for t in res.thresholds],
                                seed=seed, max_per_quadrant=cfg["max_candidates"])
            row["pipeline_f1"] = centers_metric(truth, pipe.centroids)["f1"]
        row["seconds"] = time.time() - t0
        row["load_average"] = os.getloadavg()[0]
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        rows.append(row)
    keys = [k for k in rows[0] if k not in ("seed", "seconds", "load_average")]
    summary_ = {k: {"mean": float(np.mean([r[k] for r in rows])),
                    "sd": float(np.std([r[k] for r in rows], ddof=1)) if len(rows) > 1 else 0.0} for k in keys}
    return {"profile": profile, "seeds": seeds, "rows": rows, "summary": summary_}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--out", default="imaging_seeds.json")
    args = ap.parse_args()
    out = run(args.profile, args.seeds, pipeline=not args.skip_pipeline)
    for k, v in out["summary"].items():
        print(f"{k}: mean {v['mean']:.4f}, sd {v['sd']:.4f} over seeds {args.seeds}")
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
