"""The one exception type that the command line reports as a single line with exit code 2."""


class BenchError(Exception):
    """Bad input or an impossible request: the message is shown to the user as is."""
