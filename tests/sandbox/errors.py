"""The exception the tenant rules raise, carrying the exact Graph error to answer with."""

from __future__ import annotations

from tests.sandbox.messages import Reply, graph_error


class GraphFailure(Exception):
    """A request Graph would refuse: HTTP status, OData ``error.code`` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def reply(self) -> Reply:
        """The error as a Graph reply."""
        return graph_error(self.status, self.code, self.message)


def bad_request(message: str) -> GraphFailure:
    """400 ``badRequest``: the code Graph uses for authentication-method rule violations."""
    return GraphFailure(400, "badRequest", message)


def invalid_payload() -> GraphFailure:
    """400 for a body that is not a JSON object."""
    return GraphFailure(
        400,
        "BadRequest",
        "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of "
        "valid JSON format.",
    )


def user_not_found(user: str) -> GraphFailure:
    """404 ``Request_ResourceNotFound`` for an unknown user id or UPN."""
    return GraphFailure(
        404,
        "Request_ResourceNotFound",
        f"Resource '{user}' does not exist or one of its queried reference-property objects are not present.",
    )


def group_not_found(group: str) -> GraphFailure:
    """404 ``Request_ResourceNotFound`` for an unknown group id (same shape as for users)."""
    return user_not_found(group)


def item_not_found(method_id: str) -> GraphFailure:
    """404 ``itemNotFound`` for an unknown or unregistered method id."""
    return GraphFailure(
        404, "itemNotFound", f"The requested authentication method '{method_id}' was not found."
    )
