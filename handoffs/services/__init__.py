"""Services: the only code that writes models. One transaction per call; domain errors carry a ``code``."""
