"""Schemathesis fuzzing of the REST API against its own OpenAPI spec, over real indexes.

Every operation in the app's OpenAPI document gets generated requests, valid and invalid,
sent in-process through schemathesis' ASGI transport, which runs the app's lifespan (model
warm-up, ``app.state.service``) as uvicorn would:

- all operations against an app over the session's real German index, with no API key
  configured (so write endpoints must answer 403, never write and never fail);
- the write operations (``POST /articles``, ``DELETE /articles/{id}``) with a valid key
  against a fresh, writable index of their own.

Each response must pass schemathesis' checks: never a 5xx (``not_a_server_error``), only
statuses the spec declares (``status_code_conformance``), content type and body as the spec
says (``content_type_conformance``, ``response_schema_conformance``,
``response_headers_conformance``; errors are ``application/problem+json``), a 405's ``Allow``
naming every method of the path (``allow_header_conformance``), schema-valid requests accepted
(``positive_data_acceptance``, with 400 allowed: see ``ACCEPTED_STATUSES``), plus
``errors_carry_a_message`` below. The one check left out is in ``EXCLUDED`` with the reason.

Then hypothesis sends random unicode (lone surrogates, NUL, right-to-left marks, combining
marks, zero-width and format characters, quotes and query syntax) in *every* string
parameter of every operation (query, path) and in every string field of the JSON bodies
(``POST /search``, ``POST /articles`` items): never a 5xx, every error a problem with a
message. Query and path values travel percent-encoded as the UTF-8 a client would send (a
surrogate as its invalid three-byte form), body values as JSON escapes (``"\\ud800"``).

The spec is taken from ``create_app().openapi()`` at import time (building the app opens no
store; only its lifespan does) and ``test_fuzzed_spec_is_the_served_spec`` proves it is what
``/openapi.json`` serves. ``schemathesis.pytest.from_fixture`` would load it from the fixture
app instead, but that breaks on pytest 9 (it sets ``Function._nodeid``, gone in pytest 9),
so each request is routed to the fixture's app with ``case.call_and_validate(app=...)``.

Bounded and reproducible for CI: a fixed number of examples per operation, derandomized
(the same requests on every run), no example database, no deadline (a query embedding takes
10-20 ms, much more on a loaded machine).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.embedder import Embedder
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.app import create_app

#: Examples per operation (read side) and per write operation; the module runs in < 2 min.
MAX_EXAMPLES = 60
MAX_WRITE_EXAMPLES = 25
API_KEY = "fuzz-test-key"

#: Schema-valid requests may still be refused with 400: the query language (quotes,
#: parentheses, ``field:value``) and the date rules (``date_from <= date_to``, dates with a
#: zone) cannot be expressed in JSON Schema. ``errors_carry_a_message`` checks those 400s.
ACCEPTED_STATUSES = ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]

#: Checks left out, each for a known gap of the spec (not a crash).
EXCLUDED = [
    # FastAPI/pydantic parse leniently: `"explain": 0` is taken as false, `"limit": "5"` as
    # 5, and POST /articles reports a bad item in `problems` (200) by design. Harmless, but
    # schemathesis counts every such request as "invalid data accepted".
    schemathesis.checks.negative_data_rejection,
]

#: ``ignored_auth`` re-sends a write without the key through the schema's own transport,
#: which for a schema loaded from a dict cannot reach the in-process app (it wants a
#: ``base_url``); ``test_api_writes.test_writes_need_the_key`` checks the same on both backends.
WRITE_EXCLUDED = [*EXCLUDED, schemathesis.checks.ignored_auth]

SPEC = create_app().openapi()
schema = schemathesis.openapi.from_dict(SPEC)
schema.config.checks.positive_data_acceptance.expected_statuses = ACCEPTED_STATUSES
write_schema = schema.include(path_regex="^/articles")

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # The apps are built once per operation and shared by its examples on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WRITE_SETTINGS = settings(FUZZ_SETTINGS, max_examples=MAX_WRITE_EXAMPLES)


def check_problem(status: int, content_type: str, text: str, body: Any) -> None:
    """A 4xx/5xx is ``application/problem+json`` with its status, a ``detail`` message and no
    stack trace; a 500 says nothing more than "internal error"."""
    assert content_type.startswith("application/problem+json"), content_type
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"]
    assert body["status"] == status and body["title"] and body["type"]
    assert "Traceback" not in text, "stack trace sent to the client"
    if status == 500:
        assert body["detail"] == "internal error"


def errors_carry_a_message(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """Every 4xx/5xx is a problem with a message (:func:`check_problem`)."""
    if response.status_code < 400:
        return
    check_problem(
        response.status_code,
        response.headers.get("content-type", [""])[0],
        response.text,
        response.json(),
    )


@pytest.fixture
def app(built_index: Settings, stores: Stores) -> FastAPI:
    """Read-only app over the session's real index, writes disabled (no API key set)."""
    return create_app(built_index.model_copy(update={"api_key": None}), stores)


@pytest.fixture
def write_app(tmp_path: Path, settings_for: Any, embedder: Embedder) -> Iterator[FastAPI]:
    """App with an API key over a fresh index of its own (the session index stays untouched)."""
    settings: Settings = settings_for(tmp_path / "index", api_key=API_KEY)
    opened = open_stores(settings, embedder)
    yield create_app(settings, opened)
    opened.close()


def test_fuzzed_spec_is_the_served_spec(app: FastAPI) -> None:
    """The document fuzzed here is exactly what ``GET /openapi.json`` serves."""
    with TestClient(app) as client:
        resp = client.get("/openapi.json")
    assert resp.status_code == 200
    assert resp.json() == SPEC
    assert {"/search", "/health"} <= SPEC["paths"].keys()


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_schema(case: schemathesis.Case, app: FastAPI) -> None:
    """No generated request, valid or not, gets a 5xx or a response the spec does not allow."""
    case.call_and_validate(
        app=app, excluded_checks=EXCLUDED, additional_checks=[errors_carry_a_message]
    )


@write_schema.parametrize()
@WRITE_SETTINGS
def test_write_endpoints_with_a_valid_key(case: schemathesis.Case, write_app: FastAPI) -> None:
    """Authorised writes of generated articles and deletes: never a 5xx, always per spec."""
    case.call_and_validate(
        app=write_app,
        headers={"X-API-Key": API_KEY},
        excluded_checks=WRITE_EXCLUDED,
        additional_checks=[errors_carry_a_message],
    )


# --- Regression tests for what the fuzzer found ----------------------------------------------


@pytest.mark.parametrize("mode", ["bm25", "hybrid", "dense"])
@pytest.mark.parametrize(
    "dates",
    [
        {"date_from": "2263-01-01T00:00:00Z"},
        {"date_from": "0001-01-01T00:00:00Z"},
        {"date_to": "0525-08-04T11:28:38Z"},
        {"date_from": "1000-01-01T00:00:00Z", "date_to": "9999-12-31T23:59:59Z"},
    ],
)
def test_dates_outside_the_lexical_range_are_not_a_server_error(
    app: FastAPI, mode: str, dates: dict[str, str]
) -> None:
    """Tantivy stores dates as i64 nanoseconds (1677-09-21 .. 2262-04-11); a filter outside
    that range must not reach it raw (found by schemathesis: 500 from ``range_query``)."""
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.post("/search", json={"q": "Putin", "mode": mode, **dates})
    assert resp.status_code == 200, resp.text


def test_article_dated_outside_the_lexical_range_does_not_break_writes(write_app: FastAPI) -> None:
    """An article dated year 362 is refused or stored, never a 500, and later writes still
    work (found by schemathesis: the paragraph stayed in the catalog, and every later
    ``POST /articles`` failed in ``repair`` re-adding it to tantivy)."""
    headers = {"X-API-Key": API_KEY}
    old = {"body": "Eine Chronik aus der Spätantike.", "published_at": "0362-04-17T19:07:46Z"}
    with TestClient(write_app, raise_server_exceptions=False) as client:
        resp = client.post("/articles", headers=headers, json={"articles": [old]})
        assert resp.status_code < 500, resp.text
        resp = client.post(
            "/articles", headers=headers, json={"articles": [{"body": "Ein neuer Artikel."}]}
        )
        assert resp.status_code == 200, resp.text


def test_spec_documents_its_error_statuses() -> None:
    """``/search`` declares its 400 (query syntax), 409 (stale cursor), 422 and 503 (backend
    down); writes 401/403; articles 404; all as problems."""
    get_search = SPEC["paths"]["/search"]["get"]["responses"]
    assert {"400", "409", "422", "500", "503"} <= get_search.keys()
    add = SPEC["paths"]["/articles"]["post"]["responses"]
    assert {"401", "403", "422"} <= add.keys()
    assert "404" in SPEC["paths"]["/articles/{article_id}"]["get"]["responses"]
    problem = get_search["409"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}


def test_options_allow_lists_every_method_of_the_path(app: FastAPI) -> None:
    """A 405 on ``/search`` lists both GET and POST in ``Allow`` (Starlette named only the
    first route's methods); on ``/articles/{id}`` GET and DELETE."""
    with TestClient(app) as client:
        resp = client.options("/search")
        assert resp.status_code == 405
        assert {m.strip() for m in resp.headers["allow"].split(",")} >= {"GET", "POST"}
        resp = client.put("/articles/x")
        assert {m.strip() for m in resp.headers["allow"].split(",")} >= {"GET", "DELETE"}


# --- Random unicode in every string parameter and body field ---------------------------------

#: Characters that broke or could break text handling: lone surrogates (not encodable), NUL
#: and other controls, right-to-left and bidi overrides, combining marks, zero-width and
#: format characters, a BOM, line separators, quotes, backslashes and the query syntax.
NASTY = [
    "\ud800",
    "\udfff",
    "\udc80",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\u202e",
    "\u200f",
    "\u2066",
    "\u0301",
    "\u0308",
    "\u20dd",
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u2028",
    "\ufffe",
    "\U0001f600",
    "\u0645\u0631\u062d\u0628\u0627",
    '"',
    "'",
    "\\",
    "(",
    ")",
    ":",
    "-",
    "+",
    "*",
    "%",
    "&",
    "=",
    "?",
    "/",
    "#",
    "AND",
    "OR",
    "NOT",
    "title:",
]
NASTY_TEXT = st.lists(
    st.one_of(st.sampled_from(NASTY), st.characters(), st.text(max_size=5)), max_size=12
).map("".join)
UNICODE_SETTINGS = settings(FUZZ_SETTINGS, max_examples=12)


def _is_string(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(
        o.get("type") == "string" or o.get("items", {}).get("type") == "string" for o in options
    )


def _is_list(schema: dict[str, Any]) -> bool:
    return any(o.get("type") == "array" for o in schema.get("anyOf", [schema]))


#: (method, path, parameter, "query" | "path", is a list) for every string parameter.
STRING_PARAMETERS = [
    (method, path, p["name"], p["in"], _is_list(p["schema"]))
    for path, operations in SPEC["paths"].items()
    for method, op in operations.items()
    for p in op.get("parameters", [])
    if p["in"] in ("query", "path") and _is_string(p["schema"])
]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = SPEC["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return resolved


def _string_fields(name: str) -> list[tuple[str, bool]]:
    """(field, is a list) of every string-valued field of a body model in the spec."""
    props = _resolve({"$ref": f"#/components/schemas/{name}"})["properties"]
    return [(f, _is_list(schema)) for f, schema in props.items() if _is_string(schema)]


SEARCH_BODY_FIELDS = _string_fields("SearchRequest")
ARTICLE_FIELDS = [*_string_fields("ArticleIn"), ("extra.key", False), ("extra.value", False)]


def _wire(value: str) -> str:
    """``value`` percent-encoded as the UTF-8 a client sends (a surrogate: its 3 bytes)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def check_answer(resp: Any) -> None:
    """Never a 5xx; an error is a problem with a message."""
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        check_problem(resp.status_code, resp.headers["content-type"], resp.text, resp.json())


@pytest.fixture(scope="module")
def read_client(built_index: Settings, embedder: Embedder) -> Iterator[TestClient]:
    opened = open_stores(built_index, embedder)
    app = create_app(built_index.model_copy(update={"api_key": None}), opened)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    opened.close()


@pytest.fixture(scope="module")
def write_client(
    tmp_path_factory: pytest.TempPathFactory, settings_for: Any, embedder: Embedder
) -> Iterator[TestClient]:
    settings: Settings = settings_for(tmp_path_factory.mktemp("unicode") / "i", api_key=API_KEY)
    opened = open_stores(settings, embedder)
    with TestClient(create_app(settings, opened), raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = API_KEY
        yield client
    opened.close()


@pytest.mark.parametrize(
    ("method", "path", "name", "where", "many"),
    STRING_PARAMETERS,
    ids=[f"{m}:{p}:{n}" for m, p, n, _, _ in STRING_PARAMETERS],
)
@UNICODE_SETTINGS
@given(value=NASTY_TEXT)
def test_random_unicode_in_every_string_parameter(
    read_client: TestClient,
    write_client: TestClient,
    method: str,
    path: str,
    name: str,
    where: str,
    many: bool,
    value: str,
) -> None:
    client = write_client if method == "delete" else read_client
    if where == "path":
        url = path.replace("{" + name + "}", _wire(value) or "x")
    else:
        url = path.replace("{article_id}", "x")
        url += f"?{name}={_wire(value)}" + (f"&{name}={_wire(value[::-1])}" if many else "")
    check_answer(client.request(method.upper(), url))


@pytest.mark.parametrize(
    ("name", "many"), SEARCH_BODY_FIELDS, ids=[n for n, _ in SEARCH_BODY_FIELDS]
)
@UNICODE_SETTINGS
@given(value=NASTY_TEXT)
def test_random_unicode_in_every_search_body_field(
    read_client: TestClient, name: str, many: bool, value: str
) -> None:
    body = json.dumps({name: [value] if many else value})  # surrogates as JSON escapes
    resp = read_client.post("/search", content=body, headers={"content-type": "application/json"})
    check_answer(resp)


@pytest.mark.parametrize(("name", "many"), ARTICLE_FIELDS, ids=[n for n, _ in ARTICLE_FIELDS])
@UNICODE_SETTINGS
@given(value=NASTY_TEXT)
def test_random_unicode_in_every_article_field(
    write_client: TestClient, name: str, many: bool, value: str
) -> None:
    """A POST /articles item with random text in one field is ingested or reported, never a
    5xx; the good item beside it is ingested either way."""
    item: dict[str, Any] = {"body": "Ein Artikel über das Wetter."}
    if name == "extra.key":
        item["extra"] = {value: 1}
    elif name == "extra.value":
        item["extra"] = {"k": value}
    else:
        item[name] = [value] if many else value
    good = {"article_id": "good", "body": "Ein guter Artikel über den Bundestag."}
    body = json.dumps({"articles": [item, good]})
    resp = write_client.post(
        "/articles", content=body, headers={"content-type": "application/json"}
    )
    check_answer(resp)
    result = resp.json()
    assert result["written"] + result["unchanged"] + len(result["problems"]) == 2
    if resp.status_code == 200 and not result["problems"]:
        listed = write_client.get("/search", params={"q": "", "limit": 100}).json()["results"]
        for found in listed:  # whatever was stored reads back as valid JSON text
            check_answer(write_client.get(f"/articles/{_wire(found['article_id'])}"))
