"""The layer every other stands on: errors and exit codes, files, signals, the numba cache, timing,
the environment and the version."""
