"""The base of every request body."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class InputModel(BaseModel):
    """A request body: an unknown field is refused (422 naming it), never silently dropped.

    A misspelt or invented field (`caller_name`, `urgnet`) that vanished quietly let clients
    believe it was stored; `api/problems.py` names the field in the answer.
    """

    model_config = ConfigDict(extra="forbid")
