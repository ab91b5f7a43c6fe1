"""Stages: each a function of settings -> result, composing problems, architectures, training, tracking."""
