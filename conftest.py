"""Repository-wide pytest settings: regression-checked runs never show progress bars and use a
fixed hash seed (kernels started by nbval inherit this environment)."""

import os

os.environ.setdefault("DLNLIB_PROGRESS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")
