"""What plugins build with: parameters, specs, hooks, model building blocks and counter-based random numbers."""
