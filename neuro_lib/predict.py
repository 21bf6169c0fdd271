"""Classify your own cells with the book's models: ``python -m neuro_lib.predict CHAPTER --task T --model M
--out predictions.csv INPUT...``.

The model is the same scikit-learn estimator the chapter cross-validates, trained on **all** of the task's cells
(in the chosen profile; cached, so the second call only predicts). Each input row gets one output row: the input's
id, the predicted class, the probability of every class, and, for an input that failed validation, the error
message (the chapter's error type, naming the file and line) with the other inputs still classified.

Inputs per chapter (``--help`` of a chapter lists its tasks and models):

==============  ==========================================================================================
``ephys``       CSV files with the authors' 41 feature columns (``neuro_lib.ephys.FEATURES_41``), one cell a row
``mea``         ``.npy`` files of EAP templates, shape ``(n, 100 channels, samples)`` (10x10 MEA, µV)
``morphology``  SWC files
``imaging``     Neurofinder folders (``images/`` TIFF frames and ``regions/regions.json``); one row per ROI
``multimodal``  CSV files, one cell a row: the task's ephys columns and/or an ``swc`` column (the cell's SWC file);
                a cell with one modality is classified from it (the id ends ``:modalities=ephys``/``morph``)
==============  ==========================================================================================

A chapter takes part by providing ``neuro_lib.<chapter>.predict`` with

* ``TASKS``: ``{task: description}``; ``MODELS``: ``{task: [model, ...]}`` (the first is the default);
* ``fitted_model(task, model, *, profile, seed, progress) -> estimator`` (trained on all of the task's cells);
* ``read_inputs(paths, task) -> Inputs``.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import numpy as np

__all__ = ["Inputs", "CHAPTERS", "chapter_module", "predict_rows", "write_predictions", "main"]

CHAPTERS = ("ephys", "mea", "morphology", "imaging", "multimodal")


@dataclass
class Inputs:
    """What a chapter's ``read_inputs`` returns: ``ids`` (one per input row: a file, ``file:row``, ``file:index``),
    ``X`` the valid rows in a form the chapter's estimators take, ``valid`` the positions in ``ids`` of the rows of
    ``X`` (in order), ``errors`` ``{position: message}`` for the rows that failed validation."""

    ids: list[str]
    X: Any
    valid: list[int]
    errors: dict[int, str] = field(default_factory=dict)


def chapter_module(chapter: str):
    """``neuro_lib.<chapter>.predict``. Raises ``ValueError`` naming the chapters for an unknown one, and
    ``NotImplementedError`` for a chapter that does not (yet) classify new inputs."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; expected one of {', '.join(CHAPTERS)}")
    try:
        return importlib.import_module(f"neuro_lib.{chapter}.predict")
    except ModuleNotFoundError as err:
        if err.name == f"neuro_lib.{chapter}.predict":
            raise NotImplementedError(f"the {chapter} chapter does not classify new inputs yet") from None
        raise


def predict_rows(estimator, inputs: Inputs) -> list[dict]:
    """One dict per input id: ``input``, ``predicted``, ``p_<class>`` for every class, ``error`` (empty if none)."""
    classes = [str(c) for c in estimator.classes_]
    rows = [{"input": i, "predicted": "", **{f"p_{c}": "" for c in classes}, "error": ""} for i in inputs.ids]
    for pos, msg in inputs.errors.items():
        rows[pos]["error"] = str(msg)
    if inputs.valid:
        proba = np.asarray(estimator.predict_proba(inputs.X), float)
        if proba.shape != (len(inputs.valid), len(classes)):
            raise RuntimeError(f"the model returned probabilities of shape {proba.shape} for {len(inputs.valid)} "
                               f"inputs and {len(classes)} classes")
        for pos, p in zip(inputs.valid, proba):
            rows[pos]["predicted"] = classes[int(p.argmax())]
            for c, v in zip(classes, p):
                rows[pos][f"p_{c}"] = f"{v:.6f}"
    return rows


def write_predictions(rows: Sequence[dict], out: str | Path) -> Path:
    """Write ``rows`` as CSV (header from the first row); returns the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["input", "predicted", "error"])
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m neuro_lib.predict", description=__doc__.split("\n\n")[0])
    ap.add_argument("chapter", choices=CHAPTERS)
    ap.add_argument("--task", help="the task (default: the chapter's first)")
    ap.add_argument("--model", help="the model (default: the task's first)")
    ap.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "gpu"],
                    help="the training settings (default cpu: the book's numbers)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="predictions.csv", help="output CSV")
    ap.add_argument("--list", action="store_true", help="list the chapter's tasks and models and exit")
    ap.add_argument("inputs", nargs="*", help="input files or folders")
    args = ap.parse_intermixed_args(argv)  # options before or after the inputs, as in the usage line
    try:
        mod = chapter_module(args.chapter)
    except NotImplementedError as err:
        ap.error(str(err))
    if args.list:
        for t, desc in mod.TASKS.items():
            print(f"{t}: {desc}\n    models: {', '.join(mod.MODELS[t])} (default {mod.MODELS[t][0]})")
        return 0
    task = args.task or next(iter(mod.TASKS))
    if task not in mod.TASKS:
        ap.error(f"unknown task {task!r} for {args.chapter}; expected one of {', '.join(mod.TASKS)}")
    model = args.model or mod.MODELS[task][0]
    if model not in mod.MODELS[task]:
        ap.error(f"unknown model {model!r} for {args.chapter} task {task}; expected one of "
                 f"{', '.join(mod.MODELS[task])}")
    if not args.inputs:
        ap.error("give at least one input file")
    missing = [p for p in args.inputs if not Path(p).exists()]
    if missing:
        ap.error(f"no such input: {', '.join(missing)}")
    inputs = mod.read_inputs(list(args.inputs), task)
    est = mod.fitted_model(task, model, profile=args.profile, seed=args.seed, progress=True)
    rows = predict_rows(est, inputs)
    out = write_predictions(rows, args.out)
    n_err = len(inputs.errors)
    print(f"{len(rows) - n_err} of {len(rows)} input(s) classified by {args.chapter}/{task}/{model} "
          f"({args.profile} profile)" + (f"; {n_err} failed validation (see the error column)" if n_err else "")
          + f": {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
