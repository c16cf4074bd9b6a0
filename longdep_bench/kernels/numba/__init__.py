"""numba kernels: compiled CPU time loops, forward and backward."""
