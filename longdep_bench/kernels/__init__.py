"""Kernel libraries of the built-in architectures: compiled time loops, scans and initialisations.

The architecture plugins in ``plugins/`` (installed as ``longdep_bench_plugins``) build their
models from these; a third-party plugin may use them too. Nothing here registers anything.

- ``numba/``: CPU time loops compiled with numba, forward and backward (``cells``: RNN, GRU and
  LSTM cells; ``minrnn``: minGRU/minLSTM layers; ``lstm1997``: the 1997 LSTM).
- ``triton/``: CUDA kernels in Triton (``cells``: gated cells with the whole time loop in one launch;
  ``steps``: the same cells with one launch per step; ``scan``: linear-recurrence scans; ``indrnn``).
- ``scans``: linear-recurrence scans on any device, and the choice among them.
- ``devices``: which device each ``kernel`` option runs on.
- ``gate_init``: gate-bias initialisation schemes of the gated cells.
"""
