"""The HTTP API ServiceNow calls: handlers, input parsing, access control, the OpenAPI document."""
