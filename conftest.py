"""Repository-wide pytest settings: regression-checked runs never show progress bars, use a fixed
hash seed and one intra-op thread (kernels started by nbval inherit this environment)."""

import os

os.environ.setdefault("DLNLIB_PROGRESS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")
