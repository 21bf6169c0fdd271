"""neuro_lib: the library behind the cell-type book.

Modality folders (``ephys``, ``mea``, ``morphology``, ``imaging``) hold loaders and features; ``models`` the torch
modules; ``training``, ``evaluation`` and ``results`` are shared by every chapter; ``datasets`` fetches verified data;
``run`` executes one book notebook with papermill; ``book`` executes the whole book and builds it.
"""
__version__ = "0.1.0"
