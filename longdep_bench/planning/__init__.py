"""From a sweep's options to the list of run configurations it trains."""
