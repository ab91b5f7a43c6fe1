"""Errors a user can fix: the CLI prints them as one line and exits with code 2."""


class UsageError(Exception):
    """Bad input from the user (unknown name, bad value, malformed file)."""


class NonFiniteLoss(Exception):
    """Training produced a NaN or infinite loss."""
