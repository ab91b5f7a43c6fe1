"""Where studies live: the Optuna storage, its reconnecting wrapper, and per-problem locks."""
