"""Microsoft's Graph SDKs as the judge of Graph JSON: the SDK model of every endpoint the product calls, and
every property, enum value or ``@odata.type`` in a body that the SDK does not know.

Bodies are parsed by kiota's own ``JsonParseNode.get_object_value(Model)`` (so polymorphism by
``@odata.type`` is the SDK's), then the parsed tree is walked beside the raw JSON. A *problem* is:

- a key the SDK left in ``additional_data`` of any parsed object, nested ones and list items included,
  except the annotations below;
- a string for an enum property that is not one of the SDK enum's values (kiota silently reads an unknown
  string as None, so the raw string is compared with the enum's values here);
- an ``@odata.type`` the SDK does not map to a class at that place (it falls back to the base class);
- a scalar of the wrong JSON type (kiota reads it as None), or a body the SDK cannot parse at all;
- a path this module has no model for ("no SDK model known for GET /x"), so new endpoints must be added.

Annotations, decided from how the SDK behaves: ``@odata.type``, ``@odata.nextLink``, ``@odata.deltaLink``
and ``@odata.count`` are *fields* of the SDK models (entities and complex types, collection responses,
delta responses), so they are accepted exactly where the model declares them and reported elsewhere.
``@odata.context`` is modelled nowhere: the SDK always drops it into ``additional_data``, so it is accepted
on the root object of a body only. ``@removed`` (users delta, graph-api.md 8) is modelled nowhere either
(neither ``User`` nor ``DeltaGetResponse`` has it in msgraph-sdk 1.65.0 / msgraph-beta-sdk 1.66.0): it is
accepted on the items of a delta response only, and must be ``{"reason": "changed" | "deleted"}``.

Problems read ``{version} {method} {template}: {JSON pointer} {what}``; the template names the endpoint
(``/users/{user}/authentication/phoneMethods/{id}``) so one breach on many users reads as one problem.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable
from enum import Enum
from functools import cache
from typing import Any

from kiota_serialization_json.json_parse_node import JsonParseNode

VERSIONS = {"v1.0": "msgraph", "beta": "msgraph_beta"}
NO_BODY = ""  # a route's request/response "model" when the SDK sends or expects no body
EMPTY = "{}"  # an action's request body: none, or an empty object
ERROR_MODEL = "models.o_data_errors.o_data_error:ODataError"
_ROOT_ANNOTATIONS = frozenset({"@odata.context"})
_REMOVED_REASONS = frozenset({"changed", "deleted"})
_DELTA_MODEL = "users.delta.delta_get_response:DeltaGetResponse"
_SCALARS = frozenset(
    {"get_str_value", "get_bool_value", "get_int_value", "get_float_value", "get_uuid_value",
     "get_datetime_value", "get_date_value", "get_time_value", "get_timedelta_value", "get_bytes_value"}
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Route:
    """One endpoint: its template, the versions it exists in, the request model and the 2xx response model
    (``NO_BODY`` when none is sent or expected; ``optional`` when a 2xx may or may not carry one)."""

    method: str
    template: str
    request: str
    response: str
    versions: tuple[str, ...] = ("v1.0", "beta")
    optional: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


_U = "/users/{user}"
_A = f"{_U}/authentication"
_M = "models."


def _method_routes(collection: str, model: str) -> tuple[Route, ...]:
    """List, create, get, update and delete of one method kind (``phoneMethods``, ``emailMethods``).
    The update doc's text says the object is returned, its example shows an empty 204 (graph-api.md 2)."""
    module, _, name = model.partition(":")
    item, listing = _M + model, f"{_M}{module}_collection_response:{name}CollectionResponse"
    return (
        Route("GET", f"{_A}/{collection}", NO_BODY, listing),
        Route("POST", f"{_A}/{collection}", item, item),
        Route("GET", f"{_A}/{collection}/{{id}}", NO_BODY, item),
        Route("PATCH", f"{_A}/{collection}/{{id}}", item, item, optional=True),
        Route("DELETE", f"{_A}/{collection}/{{id}}", NO_BODY, NO_BODY),
    )


ROUTES: tuple[Route, ...] = (
    Route("GET", "/users", NO_BODY, _M + "user_collection_response:UserCollectionResponse"),
    Route("POST", "/users", _M + "user:User", _M + "user:User"),
    Route("GET", "/users/delta", NO_BODY, _DELTA_MODEL),
    Route("GET", "/users/delta()", NO_BODY, _DELTA_MODEL),
    Route("GET", _U, NO_BODY, _M + "user:User"),
    Route("PATCH", _U, _M + "user:User", NO_BODY),
    Route("DELETE", _U, NO_BODY, NO_BODY),
    Route("GET", f"{_A}/methods", NO_BODY,
          _M + "authentication_method_collection_response:AuthenticationMethodCollectionResponse"),
    Route("GET", f"{_A}/methods/{{id}}", NO_BODY, _M + "authentication_method:AuthenticationMethod"),
    *_method_routes("phoneMethods", "phone_authentication_method:PhoneAuthenticationMethod"),
    Route("POST", f"{_A}/phoneMethods/{{id}}/enableSmsSignIn", EMPTY, NO_BODY),
    Route("POST", f"{_A}/phoneMethods/{{id}}/disableSmsSignIn", EMPTY, NO_BODY),
    *_method_routes("emailMethods", "email_authentication_method:EmailAuthenticationMethod"),
    Route("GET", f"{_A}/passwordMethods", NO_BODY,
          _M + "password_authentication_method_collection_response:PasswordAuthenticationMethodCollectionResponse"),
    Route("GET", f"{_A}/passwordMethods/{{id}}", NO_BODY,
          _M + "password_authentication_method:PasswordAuthenticationMethod"),
    # Beta only: msgraph-sdk (v1.0) has no signInPreferences model at all (graph-api.md 4).
    Route("GET", f"{_A}/signInPreferences", NO_BODY, _M + "sign_in_preferences:SignInPreferences", ("beta",)),
    Route("PATCH", f"{_A}/signInPreferences", _M + "sign_in_preferences:SignInPreferences", NO_BODY, ("beta",)),
    Route("GET", f"{_U}/transitiveMemberOf", NO_BODY,
          _M + "directory_object_collection_response:DirectoryObjectCollectionResponse"),
    Route("GET", f"{_U}/transitiveMemberOf/microsoft.graph.group", NO_BODY,
          _M + "group_collection_response:GroupCollectionResponse"),
    Route("GET", f"{_U}/transitiveMemberOf/microsoft.graph.directoryRole", NO_BODY,
          _M + "directory_role_collection_response:DirectoryRoleCollectionResponse"),
    Route("GET", "/groups/{id}", NO_BODY, _M + "group:Group"),
    Route("GET", "/groups/{id}/members", NO_BODY,
          _M + "directory_object_collection_response:DirectoryObjectCollectionResponse"),
    Route("GET", "/groups/{id}/members/microsoft.graph.user", NO_BODY,
          _M + "user_collection_response:UserCollectionResponse"),
    Route("GET", "/groups/{id}/transitiveMembers", NO_BODY,
          _M + "directory_object_collection_response:DirectoryObjectCollectionResponse"),
    Route("GET", "/groups/{id}/transitiveMembers/microsoft.graph.user", NO_BODY,
          _M + "user_collection_response:UserCollectionResponse"),
)  # fmt: skip
BATCH = "/$batch"
_BATCH_REQUEST_KEYS = frozenset({"id", "method", "url", "headers", "body", "dependsOn", "atomicityGroup"})
_BATCH_RESPONSE_KEYS = frozenset({"id", "status", "headers", "body", "atomicityGroup"})
# the key form users('$x@y') (provisioning/graph/paths.py)
_USER_KEY = re.compile(r"^users\('(?:[^']|'')*'\)$")


def request_problems(version: str, method: str, path: str, body: object) -> list[str]:
    """What the SDK does not know in the request *body* of ``{method} /{version}{path}`` (query-less)."""
    method = method.upper()
    if path == BATCH:
        return _batch_request_problems(version, body)
    route = find_route(version, method, path)
    if route is None:
        return [_unmapped(version, method, path)]
    where = f"{version} {method} {route.template}"
    if route.request == EMPTY:
        return (
            []
            if body is None or body == {}
            else [f"{where}: / the action takes no body (got {_short(body)})"]
        )
    if route.request == NO_BODY:
        return [] if body is None else [f"{where}: / a {method} carries no body (got {_short(body)})"]
    return judge(version, route.request, body, where)


def response_problems(version: str, method: str, path: str, status: int, body: object) -> list[str]:
    """What the SDK does not know in the answer *status*/*body* of ``{method} /{version}{path}``."""
    method = method.upper()
    if path == BATCH:
        return _batch_response_problems(version, status, body)
    route = find_route(version, method, path)
    problems = [] if route is not None else [_unmapped(version, method, path)]
    where = f"{version} {method} {route.template if route else path}"
    if status >= 400:
        return problems + judge(version, ERROR_MODEL, body, where)
    if route is None or not 200 <= status < 300:
        return problems
    if route.response == NO_BODY:
        return []  # the SDK sends these with send_no_response_content_async: any body is discarded unread
    if body is None:
        return [] if route.optional else [f"{where}: / a {status} answer without the body the SDK expects"]
    return judge(version, route.response, body, where)


def find_route(version: str, method: str, path: str) -> Route | None:
    """The route for a version-less, query-less path (``/users/x/authentication/methods``), if any."""
    return _route(version, method.upper(), _shape(path))


def judge(version: str, model: str, body: object, where: str) -> list[str]:
    """Problems of *body* read as *model* (``module:Class`` below ``{sdk}.generated``) of *version*."""
    factory = model_class(version, model)
    if not isinstance(body, dict):
        return [f"{where}: / is {_short(body)}, not the JSON object the SDK's {factory.__name__} reads"]
    try:
        parsed = _Node(body).get_object_value(factory)
    except Exception as exc:  # whatever kiota raises, the SDK cannot read the body
        return [
            f"{where}: / the SDK cannot read the body as {factory.__name__} ({type(exc).__name__}: {exc})"
        ]
    problems: list[str] = []
    _walk(parsed, body, "", _ROOT_ANNOTATIONS, problems)
    return [f"{where}: {problem}" for problem in problems]


@cache
def model_class(version: str, model: str) -> Any:
    """The SDK class for ``module:Class`` (``models.user:User``) in the package of *version*."""
    module, _, name = model.partition(":")
    return getattr(importlib.import_module(f"{VERSIONS[version]}.generated.{module}"), name)


# --- routing ---------------------------------------------------------------------------------------


def _shape(path: str) -> tuple[str, ...]:
    # The SDK's cast builders write the CSDL namespace alias (graph.user) for microsoft.graph.user.
    segments = [
        "microsoft." + s if s.startswith("graph.") else s for s in path.partition("?")[0].split("/") if s
    ]
    if segments and _USER_KEY.match(segments[0]):
        segments[:1] = ["users", "{user}"]
    return tuple(segments)


@cache
def _route(version: str, method: str, segments: tuple[str, ...]) -> Route | None:
    for route in ROUTES:
        if route.method == method and version in route.versions and _fits(route.segments, segments):
            return route
    return None


def _fits(template: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    if len(template) != len(segments):
        return False
    for want, got in zip(template, segments, strict=True):
        if want.startswith("{"):
            if want == "{user}" and got in ("delta", "delta()"):
                return False  # /users/delta is the delta function, not a user
            continue
        if want != got:
            return False
    return True


def _unmapped(version: str, method: str, path: str) -> str:
    return f"no SDK model known for {method} /{version}{path.partition('?')[0]}"


# --- the walk --------------------------------------------------------------------------------------


def _walk(parsed: Any, raw: dict[str, Any], pointer: str, allowed: frozenset[str], out: list[str]) -> None:
    """Problems of one parsed object beside its raw JSON, then of every object below it."""
    cls: Any = type(parsed)
    odata_type = raw.get("@odata.type")
    if isinstance(odata_type, str) and odata_type.casefold() != _declared_type(cls).casefold():
        out.append(f"{_ptr(pointer, '@odata.type')} {odata_type!r} is not a type the SDK knows here "
                   f"(read as {cls.__name__})")  # fmt: skip
    for key, value in (getattr(parsed, "additional_data", None) or {}).items():
        if key == "@removed" and "@removed" in allowed:
            _check_removed(raw.get(key), _ptr(pointer, key), out)
        elif key not in allowed:
            out.append(f"{_ptr(pointer, key)} is a property the SDK's {cls.__name__} does not know "
                       f"(value {_short(raw.get(key, value))})")  # fmt: skip
    item_allowed = frozenset({"@removed"}) if _is_delta(cls) else frozenset()
    for key, value in raw.items():
        if value is None:
            continue  # kiota skips nulls of known properties
        kind = _field_kind(cls, key)
        if kind is not None:
            _check_field(parsed, kind, value, _ptr(pointer, key), item_allowed, out)


def _check_field(
    parsed: Any, kind: _Kind, value: Any, pointer: str, item_allowed: frozenset[str], out: list[str]
) -> None:
    got = getattr(parsed, kind.attr, None) if kind.attr else None
    if kind.getter == "get_enum_value":
        _check_enum(kind.arg, value, pointer, out)
    elif kind.getter == "get_collection_of_enum_values":
        for index, item in enumerate(value if isinstance(value, list) else str(value).split(",")):
            _check_enum(kind.arg, item.strip() if isinstance(item, str) else item, f"{pointer}/{index}", out)
    elif kind.getter == "get_object_value":
        if not isinstance(value, dict) or got is None:
            out.append(f"{pointer} is {_short(value)}, not an object the SDK reads")
        else:
            _walk(got, value, pointer, frozenset(), out)
    elif kind.getter == "get_collection_of_object_values":
        if not isinstance(value, list):
            out.append(f"{pointer} is {_short(value)}, not the list the SDK reads")
            return
        for index, (child, item) in enumerate(zip(got or [], value, strict=False)):
            if isinstance(item, dict) and child is not None:
                _walk(child, item, f"{pointer}/{index}", item_allowed, out)
            else:
                out.append(f"{pointer}/{index} is {_short(item)}, not an object the SDK reads")
    elif kind.getter == "get_collection_of_primitive_values":
        if not isinstance(value, list) or got is None or any(v is None for v in got):
            out.append(f"{pointer} is {_short(value)}, not the list of {kind.arg.__name__} the SDK reads")
    elif kind.getter in _SCALARS and got is None:
        out.append(f"{pointer} is {_short(value)}, which the SDK's {kind.getter} reads as nothing")


def _check_enum(enum_cls: type[Enum], value: Any, pointer: str, out: list[str]) -> None:
    if not isinstance(value, str) or value not in _enum_values(enum_cls):
        shown = ", ".join(sorted(_enum_values(enum_cls)))
        out.append(f"{pointer} {value!r} is not a value of the SDK enum {enum_cls.__name__} ({shown})")


def _check_removed(value: Any, pointer: str, out: list[str]) -> None:
    if not (isinstance(value, dict) and set(value) == {"reason"} and value["reason"] in _REMOVED_REASONS):
        out.append(f"{pointer} {_short(value)} is not {{'reason': 'changed' | 'deleted'}}")


class _Node(JsonParseNode):  # type: ignore[misc]
    """kiota's ``JsonParseNode`` (discriminators, getters and ``additional_data`` are the SDK's own), reading
    properties through a per-class table of what the SDK's deserializers call, recorded once. The generated
    ``Entity.get_field_deserializers`` runs some 2,400 ``import`` statements on every call (18 ms per
    object); the table makes a body cost well under a millisecond. ``test_sdk_models`` checks the two
    readings agree."""

    def _create_new_node(self, node: Any) -> JsonParseNode:
        return _Node(node)

    def _assign_field_values(self, item: Any) -> None:
        if not isinstance(self._json_node, dict):
            return
        extra = item.additional_data if getattr(item, "additional_data", None) is not None else {}
        for key, value in self._json_node.items():
            kind = _field_kind(item.__class__, key)
            if kind is None:
                extra[key] = self.try_get_anything(value)
            elif value is None:
                continue
            elif kind.attr is None:  # not the generated one-attribute shape: ask the SDK itself
                item.get_field_deserializers()[key](self._create_new_node(value))
            else:
                setattr(item, kind.attr, getattr(self._create_new_node(value), kind.getter)(*kind.args))


# --- what the SDK declares, cached per class -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Kind:
    """How a model reads one JSON property: the ParseNode getter, its argument, the attribute it sets."""

    getter: str
    args: tuple[Any, ...]
    attr: str | None

    @property
    def arg(self) -> Any:
        return self.args[0] if self.args else None


class _Probe:
    """A ParseNode that records which getter a field deserializer calls and returns a marker."""

    def __init__(self) -> None:
        self.marker = object()
        self.getter = ""
        self.args: tuple[Any, ...] = ()

    def __getattr__(self, name: str) -> Callable[..., object]:
        def record(*args: Any) -> object:
            self.getter, self.args = name, args
            return self.marker

        return record


@cache
def _field_kind(cls: Any, key: str) -> _Kind | None:
    """How *cls* reads JSON property *key* (None when the model does not declare it)."""
    template = _template(cls)
    deserializer = template.get_field_deserializers().get(key)
    if deserializer is None:
        return None
    probe = _Probe()
    deserializer(probe)
    attr = next((name for name, value in vars(template).items() if value is probe.marker), None)
    return _Kind(probe.getter, probe.args, attr)


@cache
def _template(cls: Any) -> Any:
    return cls()


@cache
def _declared_type(cls: Any) -> str:
    """The ``@odata.type`` a class stands for: its ``odata_type`` default, else (abstract bases such as
    ``AuthenticationMethod``, complex types) ``#microsoft.graph.`` and its name in camel case."""
    for item in dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ():
        if item.name == "odata_type" and isinstance(item.default, str):
            return item.default
    return f"#microsoft.graph.{cls.__name__[:1].lower()}{cls.__name__[1:]}"


@cache
def _enum_values(enum_cls: Any) -> frozenset[str]:
    return frozenset(str(member.value) for member in enum_cls)


@cache
def _is_delta(cls: Any) -> bool:
    return any(base.__name__ == "BaseDeltaFunctionResponse" for base in cls.__mro__)


def _ptr(pointer: str, key: str) -> str:
    return f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- $batch envelopes ------------------------------------------------------------------------------


def _batch_request_problems(version: str, body: object) -> list[str]:
    """Envelope keys, then each inner write body against its own route."""
    where = f"{version} POST {BATCH}"
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        return [f"{where}: /requests is missing or not a list"]
    items: list[Any] = body["requests"]
    problems = [f"{where}: /{key} is not a $batch key" for key in body if key != "requests"]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{where}: /requests/{index} is not an object")
            continue
        problems += [f"{where}: /requests/{index}/{k} is not a $batch request key" for k in item
                     if k not in _BATCH_REQUEST_KEYS]  # fmt: skip
        inner_path = "/" + str(item.get("url", "")).partition("?")[0].lstrip("/")
        if item.get("body") is not None:
            problems += request_problems(version, str(item.get("method", "")), inner_path, item["body"])
    return problems


def _batch_response_problems(version: str, status: int, body: object) -> list[str]:
    """Envelope keys, and inner error bodies (other inner bodies need the request: see check.py)."""
    where = f"{version} POST {BATCH}"
    if status >= 400:
        return judge(version, ERROR_MODEL, body, where)
    items = body.get("responses") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return [f"{where}: /responses is missing or not a list"]
    problems: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(f"{where}: /responses/{index} is not an object")
            continue
        problems += [f"{where}: /responses/{index}/{k} is not a $batch response key" for k in item
                     if k not in _BATCH_RESPONSE_KEYS]  # fmt: skip
        if isinstance(item.get("status"), int) and item["status"] >= 400:
            problems += judge(version, ERROR_MODEL, item.get("body"), f"{where} /responses/{index}")
    return problems
