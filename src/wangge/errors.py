"""Typed domain errors, each with a stable code and a Chinese and an English message.

Services raise these; the HTTP edge maps them to problem+json and the CLI prints them
and exits non-zero. Nothing here imports the web or database layers.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a user can see: stable `code`, messages in Chinese and English.

    `keep_writes=True` marks a refusal whose own bookkeeping must outlive it (a failed login
    counts towards the lockout and is audited): the request's or command's transaction is
    committed before the error is answered, instead of rolled back.
    """

    status: int = 400
    default_code: str = "domain_error"

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        keep_writes: bool = False,
    ) -> None:
        super().__init__(message_en)
        self.keep_writes = keep_writes
        self.code = code or self.default_code
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message_en}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able body used by the API and the CLI."""
        body: dict[str, Any] = {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


def keeps_writes(exc: BaseException) -> bool:
    """Return True when the transaction must be committed although `exc` is raised."""
    return isinstance(exc, DomainError) and exc.keep_writes


class NotFound(DomainError):
    status = 404
    default_code = "not_found"


class Conflict(DomainError):
    status = 409
    default_code = "conflict"


class Forbidden(DomainError):
    status = 403
    default_code = "forbidden"


class ValidationFailed(DomainError):
    status = 422
    default_code = "validation_failed"


class InvalidTransition(DomainError):
    status = 409
    default_code = "invalid_transition"


class ImportFailed(ValidationFailed):
    """A file could not be imported; names the file, the feature (1-based), the field and why.

    Imports are all-or-nothing, so raising this means nothing was written.
    """

    default_code = "import_failed"

    def __init__(
        self,
        *,
        file: str,
        reason_zh: str,
        reason_en: str,
        feature: int | None = None,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        where_zh = f"文件 {file}"
        where_en = f"file {file}"
        if feature is not None:
            where_zh += f" 第 {feature} 个要素"
            where_en += f", feature {feature}"
        if field:
            where_zh += f" 字段 {field}"
            where_en += f", field {field}"
        super().__init__(
            f"{where_zh}：{reason_zh}",
            f"{where_en}: {reason_en}",
            code=code,
            field=field,
            details={"file": file, "feature": feature, "field": field},
        )
        self.file = file
        self.feature = feature
