"""The 13 layer-5 cell models of Buccino et al. (2018), Table I, and the one-off compilation of their mechanisms.

The models are Blue Brain Project neocortical microcircuit models (Markram et al. 2015; Ramaswamy et al. 2015)
shipped inside the ``MEArec`` package (``MEArec/cell_models/bbp/``) under CC-BY-NC-SA 4.0. We never compile inside
site-packages: :func:`compile_cell_models` copies the model folders (with their ``LICENSE`` files) to
``cache_dir()/mea/cell_models-<MEArec version>/`` and runs ``nrnivmodl`` once on the union of their ``.mod`` files,
in MEArec's layout (``<folder>/mods/``), so MEArec's own loader can use the same folder.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["CELL_MODELS", "EXCITATORY", "MEAError", "cell_class", "cell_mtype", "is_excitatory",
           "check_cell_names", "mearec_models_folder", "compile_cell_models", "models_cache_folder"]


class MEAError(ValueError):
    """Bad input to the MEA chapter's simulation (unknown cell model, probe, position, stale cache...)."""


#: The paper's Table I, in its order.
CELL_MODELS: tuple[str, ...] = (
    "L5_BP_bAC217_1", "L5_BTC_bAC217_1", "L5_ChC_cACint209_1", "L5_DBC_bAC217_1", "L5_LBC_bAC217_1",
    "L5_MC_bAC217_1", "L5_NBC_bAC217_1", "L5_NGC_bNAC219_1", "L5_SBC_bNAC219_1", "L5_STPC_cADpyr232_1",
    "L5_TTPC1_cADpyr232_1", "L5_TTPC2_cADpyr232_1", "L5_UTPC_cADpyr232_1",
)
#: Pyramidal cells are excitatory (Table I); the nine interneurons are inhibitory.
EXCITATORY: frozenset[str] = frozenset({"STPC", "TTPC1", "TTPC2", "UTPC"})


def cell_mtype(name: str) -> str:
    """Morphological type of a BBP model name, e.g. ``"L5_TTPC1_cADpyr232_1" -> "TTPC1"``."""
    check_cell_names([name])
    return name.split("_")[1]


def is_excitatory(name: str) -> bool:
    """True for the four pyramidal m-types (STPC, TTPC1, TTPC2, UTPC), False for the interneurons."""
    return cell_mtype(name) in EXCITATORY


def cell_class(name: str) -> str:
    """``"excitatory"`` or ``"inhibitory"``."""
    return "excitatory" if is_excitatory(name) else "inhibitory"


def check_cell_names(names) -> list[str]:
    """Return ``list(names)``; raise :class:`MEAError` naming any name not in :data:`CELL_MODELS`."""
    names = [names] if isinstance(names, str) else list(names)
    bad = [n for n in names if n not in CELL_MODELS]
    if bad:
        raise MEAError(f"unknown cell model(s) {bad}; expected names from Buccino et al. (2018) Table I: "
                       f"{', '.join(CELL_MODELS)}")
    if not names:
        raise MEAError("no cell models given")
    return names


def mearec_models_folder() -> Path:
    """``site-packages/MEArec/cell_models/bbp`` (read-only source of the models)."""
    import MEArec

    return Path(MEArec.__file__).parent / "cell_models" / "bbp"


def models_cache_folder() -> Path:
    """Where the compiled copy lives: ``cache_dir()/mea/cell_models-<MEArec version>``."""
    from importlib.metadata import version

    from ..cache import cache_dir

    return cache_dir() / "mea" / f"cell_models-{version('MEArec')}"


def _nrnivmodl() -> str:
    cand = Path(sys.executable).parent / "nrnivmodl"
    if cand.exists():
        return str(cand)
    found = shutil.which("nrnivmodl")
    if not found:
        raise MEAError("nrnivmodl (NEURON's mechanism compiler) was not found next to the Python interpreter or on "
                       "PATH; install NEURON 8.2 (pip install neuron==8.2.7)")
    return found


def compile_cell_models(folder: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """Copy the 13 models out of site-packages and compile their mechanisms once; return the models folder.

    The folder (default :func:`models_cache_folder`) holds one sub-folder per cell model (with its ``LICENSE``) and
    ``mods/`` with the union of the ``.mod`` files and NEURON's compiled library (``mods/x86_64/``). A marker file
    written last means a half-finished copy or compile is redone, never used; the work happens in a temporary folder
    that is renamed into place, so two processes racing each other do not see a partial folder.

    Raises :class:`MEAError` if two models ship different ``.mod`` files of the same name, or if ``nrnivmodl``
    fails (the message carries the compiler's output).
    """
    out = Path(folder) if folder else models_cache_folder()
    marker = out / ".compiled"
    if marker.exists() and not force:
        return out
    src = mearec_models_folder()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".compile-"))
    try:
        mods = tmp / "mods"
        mods.mkdir()
        seen: dict[str, str] = {}
        for name in CELL_MODELS:
            shutil.copytree(src / name, tmp / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            for mod in sorted((src / name / "mechanisms").glob("*.mod")):
                digest = hashlib.sha256(mod.read_bytes()).hexdigest()
                if seen.setdefault(mod.name, digest) != digest:
                    raise MEAError(f"{mod}: a different {mod.name} was already taken from another model; the "
                                   "models' mechanisms cannot share one compiled library")
                shutil.copy(mod, mods / mod.name)
        proc = subprocess.run([_nrnivmodl()], cwd=mods, capture_output=True, text=True)
        lib = list(mods.glob("*/.libs/libnrnmech.so")) + list(mods.glob("*/libnrnmech.so"))
        if proc.returncode != 0 or not lib:
            raise MEAError(f"nrnivmodl failed in {mods} (exit code {proc.returncode}):\n{proc.stdout[-4000:]}\n"
                           f"{proc.stderr[-4000:]}")
        (tmp / ".compiled").write_text("nrnivmodl ok\n")
        if out.exists():
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:  # another process won the race: use its folder
            if not marker.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
