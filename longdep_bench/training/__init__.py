"""One run: objectives, stopping rules, the training step and loop, and the contract checks that run them small."""
