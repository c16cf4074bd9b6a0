"""Finding plugins through entry points, and checking what they declare and promise."""
