"""Training a configuration: one seed, several seeds at once, the listeners that hear them, and which seeds each stage uses."""
