"""The one error hierarchy of pdfchat.

    PdfchatError
    ├── InvalidInput          bad request data (web: 400)
    │   ├── PayloadTooLarge   over a configured size limit (web: 413)
    │   └── UnsupportedMedia  not the kind of file we accept (web: 415)
    ├── Unauthenticated       missing or invalid token (web: 401)
    ├── Forbidden             valid token, role not allowed (web: 403)
    ├── NotFound              no such resource in the caller's tenant (web: 404)
    ├── Conflict              state does not allow the operation (web: 409)
    ├── Gone                  existed, but no longer kept (web: 410)
    ├── TooManyRequests       over a limit for now; carries ``retry_after_s`` (web: 429)
    │   └── Overloaded        the whole system is over capacity, not just this caller (503)
    ├── DocumentRejected      a document that can never be parsed; carries a readable reason
    └── TransientError        worth retrying with backoff (``retriable = True``)

``code`` is a stable machine-readable string that API clients may rely on.
"""

from __future__ import annotations


class PdfchatError(Exception):
    code: str = "internal"
    retriable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(PdfchatError):
    code = "invalid_input"  # a field, parameter or file that breaks the API's rules


class PayloadTooLarge(InvalidInput):
    code = "too_large"  # an upload, page count or question over its configured limit


class UnsupportedMedia(InvalidInput):
    code = "unsupported_media_type"  # a file that is not a PDF


class Unauthenticated(PdfchatError):
    code = "unauthenticated"  # no bearer token, or one that fails verification


class Forbidden(PdfchatError):
    code = "forbidden"  # the token's role may not do this


class NotFound(PdfchatError):
    code = "not_found"  # absent, or owned by another tenant: the two look alike


class Conflict(PdfchatError):
    code = "conflict"  # e.g. an Idempotency-Key reused for another file


class Gone(PdfchatError):
    code = "gone"  # e.g. an answer stream already ended, or past its retention


class TooManyRequests(PdfchatError):
    """Over a limit for the moment: the same request may succeed after ``retry_after_s``."""

    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class Overloaded(TooManyRequests):
    code = "overloaded"  # every tenant's work together is over what the system takes


class DocumentRejected(PdfchatError):
    """The document itself is the problem: retrying cannot help."""

    code = "rejected"


class TransientError(PdfchatError):
    code = "transient"  # a dependency is down or slow; the caller may retry
    retriable = True
