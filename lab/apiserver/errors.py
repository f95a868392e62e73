"""API errors and the Kubernetes `Status` bodies they become.

Messages and reasons follow the real kube-apiserver (k8s.io/apimachinery
pkg/api/errors), so clients that inspect `reason` or `code` behave the same
against the lab as against a cluster.
"""


class ApiError(Exception):
    """An error with an HTTP code, a Kubernetes reason and a message."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self):
        """The `Status` body the API server sends for this error."""
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": self.message,
                "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def _details(group, plural, name):
    details = {"kind": plural}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return details


def _qualified(group, plural):
    return f"{plural}.{group}" if group else plural


class NotFound(ApiError):
    def __init__(self, message, details=None):
        super().__init__(404, "NotFound", message, details)

    @classmethod
    def object(cls, group, plural, name):
        return cls(f'{_qualified(group, plural)} "{name}" not found', _details(group, plural, name))


class NotServed(NotFound):
    """A path or resource this server does not serve (at its version)."""

    def __init__(self, message="the server could not find the requested resource"):
        super().__init__(message)


class AlreadyExists(ApiError):
    def __init__(self, message, details=None):
        super().__init__(409, "AlreadyExists", message, details)

    @classmethod
    def object(cls, group, plural, name):
        return cls(f'{_qualified(group, plural)} "{name}" already exists', _details(group, plural, name))


class Conflict(ApiError):
    def __init__(self, message, details=None):
        super().__init__(409, "Conflict", message, details)

    @classmethod
    def object(cls, group, plural, name, why):
        return cls(f'Operation cannot be fulfilled on {_qualified(group, plural)} "{name}": {why}',
                   _details(group, plural, name))


class Invalid(ApiError):
    """422 with one cause per invalid field, as field validation reports it."""

    def __init__(self, message, details=None):
        super().__init__(422, "Invalid", message, details)

    @classmethod
    def field(cls, group, kind, name, field, what):
        details = {"name": name or "", "kind": kind,
                   "causes": [{"reason": "FieldValueInvalid", "message": what, "field": field}]}
        if group:
            details["group"] = group
        return cls(f'{kind}.{group} "{name or ""}" is invalid: {field}: {what}' if group
                   else f'{kind} "{name or ""}" is invalid: {field}: {what}', details)


class BadRequest(ApiError):
    def __init__(self, message, details=None):
        super().__init__(400, "BadRequest", message, details)


class Forbidden(ApiError):
    def __init__(self, message, details=None):
        super().__init__(403, "Forbidden", message, details)


class MethodNotAllowed(ApiError):
    def __init__(self, message, details=None):
        super().__init__(405, "MethodNotAllowed", message, details)


class UnsupportedMediaType(ApiError):
    def __init__(self, message, details=None):
        super().__init__(415, "UnsupportedMediaType", message, details)
