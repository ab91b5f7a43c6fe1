"""Fused towers: several seed runs (and configurations of one structure) trained as the towers of one Keras model."""
