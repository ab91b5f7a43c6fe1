"""The only package that talks to MLflow: runs, nested runs, curves, plots, models, registry.

Import its modules directly: `tracking.names` stays light (no MLflow) for the command line."""
