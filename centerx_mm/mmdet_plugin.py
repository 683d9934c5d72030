"""The explicit opt-in for OpenMMLab's own tools.

Our configs list this module in ``custom_imports`` (configs/_base_/
default_runtime.py). mmdet's and mmdeploy's tools (``tools/test.py``,
``browse_dataset.py``, ``DetInferencer(scope='centerx_mm')`` ...) import it
when they read such a config: it registers centerx_mm's modules and installs
the weights-only checkpoint loader (:mod:`centerx_mm.checkpoint`), exactly as
:func:`centerx_mm.utils.register_all_modules` does in our own tools. Nothing
else in the package changes global state on import.
"""
from centerx_mm.utils import register_all_modules

register_all_modules(init_default_scope=False)
