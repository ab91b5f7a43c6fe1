"""The only package that talks to MLflow: runs, nested runs, curves, plots, models, registry."""
from tracking.names import experiment_name, model_name
from tracking.tracker import Tracker, mask_credentials

__all__ = ["Tracker", "experiment_name", "mask_credentials", "model_name"]
