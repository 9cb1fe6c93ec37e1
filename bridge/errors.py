"""Errors that end the bridge's start with one line for the admin."""


class StartupError(Exception):
    """The bridge cannot start; the message tells the admin what to fix."""
