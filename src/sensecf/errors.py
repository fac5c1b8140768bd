"""Errors raised for bad user input.

Every error a user can cause by what they pass in (a file, a spec, a column, an option) derives
from :class:`SensecfError`; the command line prints its message on one line and exits non-zero.
"""

from __future__ import annotations


class SensecfError(Exception):
    """Base class for errors caused by the user's input, with a message that names the culprit.

    ``option`` names the library parameter at fault where there is one (``"llm.base_url"``: a
    field of :class:`~sensecf.generators.llm.options.LLMOptions`), so a front end can name its
    own spelling of it (the command line adds the flag) while the message speaks the library's.

    >>> error = SensecfError("base_url is for the openai backend", option="llm.base_url")
    >>> str(error), error.option
    ('base_url is for the openai backend', 'llm.base_url')
    """

    def __init__(self, *args: object, option: str | None = None) -> None:
        super().__init__(*args)
        self.option = option


class SpecError(SensecfError, ValueError):
    """A feature or dataset spec is malformed or does not match the data."""


class DataError(SensecfError, ValueError):
    """A data file or table is missing, malformed, or inconsistent with its spec."""


class ModelError(SensecfError, ValueError):
    """A classifier option is invalid, or a saved model folder is missing or unreadable."""
