"""Errors for bad input to etm; the CLI prints them as one line with exit code 2."""


class InputError(ValueError):
    """Bad user input; the message names the problem in one line."""
