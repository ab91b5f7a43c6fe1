"""The only package that talks to MLflow: runs, nested runs, curves, plots, models, registry."""
from tracking.tracker import Tracker, mask_credentials

__all__ = ["Tracker", "mask_credentials"]
