"""The one exception type for bad user input: the CLI prints its message on one line, exit 2."""


class UserError(Exception):
    """Bad input (file, option, data). The message names the file and what is wrong."""
