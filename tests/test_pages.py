"""neuro_lib.pages (numbers and figures glued into the prose) and how run.py presents the executed page."""
import json
import textwrap

import pytest

from neuro_lib import pages
from neuro_lib.run import run_notebook

SCRIPT = textwrap.dedent('''\
    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---

    # %% [markdown]
    # # Toy

    # %% tags=["parameters"]
    profile = "cpu"

    # %%
    import matplotlib.pyplot as plt
    from neuro_lib import pages
    pages.number("acc", 0.93812)
    pages.percent("acc_pct", 0.93812)
    pages.markdown("claim", "* a **bold** claim")
    print("set up")

    # %%
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    pages.figure("line", fig)

    # %%
    plt.plot([1, 2])

    # %% tags=["show-input"]
    x = 1
    ''')


def test_glued_outputs_are_stored_and_setup_cells_collapsed(tmp_path):
    script = tmp_path / "toy" / "01_toy.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    nb = json.loads(run_notebook(script, {}, tmp_path / "runs", progress=False).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "injected-parameters" not in c["metadata"]["tags"]]
    params, setup, glued_fig, shown_fig, kept = code
    prefix = "application/papermill.record/"  # how MyST-NB stores an output shown only where the text places it
    glued = {o["metadata"]["scrapbook"]["name"]: {k.removeprefix(prefix): v for k, v in o["data"].items()}
             for c in (setup, glued_fig) for o in c["outputs"] if "scrapbook" in o.get("metadata", {})}
    assert glued["acc"]["text/plain"] == "0.93812"
    assert glued["acc_pct"]["text/markdown"] == "93.8%"
    assert glued["claim"]["text/markdown"] == "* a **bold** claim"
    assert "image/png" in glued["line"]
    # a glued figure is not displayed by its cell (closed), and no return value is echoed
    assert not [o for o in glued_fig["outputs"] if "scrapbook" not in o.get("metadata", {})]
    assert "hide-input" in params["metadata"]["tags"]
    assert "hide-input" in setup["metadata"]["tags"] and "hide-input" in glued_fig["metadata"]["tags"]
    assert "hide-input" not in shown_fig["metadata"]["tags"]  # a cell that shows a figure keeps its code open
    assert "hide-input" not in kept["metadata"]["tags"]  # show-input opts out


def test_bad_glue_calls_say_what_was_expected():
    with pytest.raises(TypeError, match="expected a number, got str"):
        pages.number("x", "0.9")
    with pytest.raises(TypeError, match="expected a number"):
        pages.number("x", True)
    with pytest.raises(ValueError, match="letters, digits"):
        pages.number("bad name", 1.0)
    with pytest.raises(TypeError, match="expected a str"):
        pages.markdown("x", 3)
