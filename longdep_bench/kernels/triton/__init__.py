"""Triton kernels (CUDA; on the CPU only under TRITON_INTERPRET=1)."""
