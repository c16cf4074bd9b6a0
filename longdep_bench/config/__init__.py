"""What a sweep is asked for: the settings declaration, sweep files and the run configuration."""
