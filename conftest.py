"""Repository-wide pytest settings: regression-checked runs never show progress bars, use a fixed
hash seed and one intra-op thread. Set here (not by the shell) so that `python -m pytest ...` gives the
same runs in PowerShell as under make; kernels started by nbval inherit this environment."""

from dlnlib.execute import checked_env

checked_env()
