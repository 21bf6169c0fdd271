"""Our morphometrics against real L-Measure output (Scorcioni, Polavaram & Ascoli 2008): the
``lmeasure_paper19.csv`` table of the mirror holds L-Measure's values of the paper's 19 features for the 433
m-typed rat S1 cells."""
from __future__ import annotations

import numpy as np

__all__ = ["LMEASURE_COLUMNS", "compare_lmeasure"]

#: our feature name -> column of ``lmeasure_paper19.csv`` (the real L-Measure values); TotalFragmentation and
#: AverageContraction are not in that file (it has Average_Rall_s_Ratio instead)
LMEASURE_COLUMNS = {
    "TotalLength": "Total_Length", "TotalSurface": "Total_Surface", "TotalVolume": "Total_Volume",
    "OverallDepth": "Overall_Depth", "OverallHeight": "Overall_Height", "OverallWidth": "Overall_Width",
    "NumberBifurcations": "Number_of_Bifurcations", "NumberStems": "Number_of_Stems",
    "NumberBranches": "Number_of_Branches", "FractalDimension": "Fractal_Dimension",
    "AverageDiameter": "Average_Diameter", "MaxBranchOrder": "Max_Branch_Order",
    "MaxPathDistance": "Max_Path_Distance", "MaxEuclideanDistance": "Max_Euclidean_Distance",
    "SomaSurface": "Soma_Surface", "PartitionAsymmetry": "Partition_Asymmetry",
    "AverageBifurcationAngleRemote": "Average_Bifurcation_Angle_Remote",
    "AverageBifurcationAngleLocal": "Average_Bifurcation_Angle_Local",
}


def compare_lmeasure(ours, lmeasure):
    """Per-feature agreement of our features with real L-Measure output.

    ``ours``: DataFrame with a ``neuron_name`` column and feature columns (:data:`~neuro_lib.morphology.features.
    FEATURES`); ``lmeasure``: the ``lmeasure_paper19.csv`` table. Returns a DataFrame indexed by feature: ``n``
    cells compared, ``median_rel_diff`` and ``p90_rel_diff`` of |ours - L-Measure| / |L-Measure| (fractions), and
    both medians (in the feature's unit). Cells where L-Measure is 0 are left out of the relative difference.
    Raises ``KeyError`` if a column is missing.
    """
    import pandas as pd

    m = ours.merge(lmeasure, on="neuron_name", suffixes=("", "_lm"))
    rows = {}
    for k, col in LMEASURE_COLUMNS.items():
        a, b = m[k].to_numpy(float), m[col].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b) & (b != 0)
        rd = np.abs(a[ok] - b[ok]) / np.abs(b[ok])
        rows[k] = {"n": int(ok.sum()), "median_rel_diff": float(np.median(rd)) if ok.any() else np.nan,
                   "p90_rel_diff": float(np.percentile(rd, 90)) if ok.any() else np.nan,
                   "ours_median": float(np.nanmedian(a)), "lmeasure_median": float(np.nanmedian(b))}
    return pd.DataFrame(rows).T
