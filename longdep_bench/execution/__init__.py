"""Running a sweep: the driver, its scheduler, executors, progress and reproduction of a recorded run."""
