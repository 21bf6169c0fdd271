"""Numbers and figures placed into a page's prose, not printed by code cells (MyST-NB's ``glue``).

A page computes a number or draws a figure in a code cell and *glues* it under a name; the markdown then places it:

.. code-block:: python

    from neuro_lib import pages
    pages.number("dann_human", 0.9381)            # {glue:text}`dann_human:.3f` in the text
    pages.figure("ei_accuracy", fig)              # a numbered figure with a caption (below)
    pages.markdown("ei_claims", "* DANN ...")     # {glue:md}`ei_claims` renders it as MyST

.. code-block:: markdown

    ```{glue:figure} ei_accuracy
    :name: fig-ei-accuracy

    Accuracy per species ...
    ```
    ... as {numref}`fig-ei-accuracy` shows, the DANN reaches {glue:text}`dann_human:.3f` on human cells.

The glued outputs stay in the executed notebook (``jupyter-book`` reads them from there; the code cell itself shows
nothing), so every number in the text still comes from the run, the way QuantEcon's lectures do it. Outside Jupyter
(a plain ``python`` run of the script) the calls do nothing visible.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["number", "figure", "markdown", "percent"]


def _glue(name: str, value) -> None:
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"glue name {name!r}: use letters, digits, '_' and '-' only (MyST roles read it)")
    from myst_nb import glue

    glue(name, value, display=False)


def number(name: str, value) -> None:
    """Glue a number for ``{glue:text}`name:.3f``` (any Python format spec after the colon).

    ``value``: an int or float (numpy scalars are converted); NaN is glued as-is, so the text shows ``nan`` rather
    than a made-up figure. Returns nothing (so a cell ending with the call shows nothing). Raises ``TypeError`` for
    a non-number (glue a string with :func:`markdown`, whose text MyST renders without quotes).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise TypeError(f"pages.number({name!r}): expected a number, got {type(value).__name__}")
    value = int(value) if isinstance(value, numbers.Integral) else float(value)
    _glue(name, value)


def percent(name: str, fraction: float, digits: int = 1) -> None:
    """Glue ``fraction`` (0-1) as a percentage string such as ``"93.8%"`` for ``{glue:md}`name```."""
    text = "n/a" if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)) \
        else f"{100 * float(fraction):.{digits}f}%"
    markdown(name, text)


def markdown(name: str, text: str) -> None:
    """Glue MyST markdown (a sentence, a bullet list) for ``{glue:md}`name``` or a ``{glue:md}`` block."""
    from IPython.display import Markdown

    if not isinstance(text, str):
        raise TypeError(f"pages.markdown({name!r}): expected a str, got {type(text).__name__}")
    _glue(name, Markdown(text))


def figure(name: str, fig=None):
    """Glue a matplotlib figure (default: the current one) for a ``{glue:figure}`` block with a caption and a
    ``:name:`` for ``{numref}``; the figure is closed so the code cell shows nothing."""
    import matplotlib.pyplot as plt

    fig = plt.gcf() if fig is None else getattr(fig, "figure", fig)  # an Axes -> its Figure
    _glue(name, fig)
    plt.close(fig)
