"""Schemathesis hooks for Eddy's fuzz campaign (apiserver/eddy/tests/schemathesis.rs).

Loaded with SCHEMATHESIS_HOOKS=schemathesis_hooks (this folder on PYTHONPATH). They adapt the
generic fuzzer to a Kubernetes API server:

- Server-side apply bodies (`application/apply-patch+yaml`) are sent as YAML: schemathesis has
  no YAML request serializer of its own.
- A watch (`watch=true`) is bounded: a `timeoutSeconds` that would let it stream for more than a
  second becomes 1, so a generated watch ends by itself instead of streaming until the client
  gives up. Negative and malformed values stay (they end the watch at once, or are a 400), and
  every other request keeps the generated (hostile) `timeoutSeconds`.
- Half of the requests about one object (chosen by a hash of the generated path, so a replay
  picks the same) are pointed at the objects the test created beforehand
  (`EDDY_FUZZ_SEEDED=<namespace>/<name>`), so that replace, patch and status requests reach the
  write path instead of a 404; a replace's body is renamed to match. Deletes are pointed there
  only with `dryRun=All`, so the objects stay.
- Two answers kube-apiserver gives by design are not counted as failures: the 504 `Timeout`
  "Too large resource version" (a read at a resourceVersion the store has not reached yet,
  which client-go's reflector retries) and a watch's body, which is a stream of JSON
  `WatchEvent`s (possibly none) under `Content-Type: application/json`, not one document;
  `kubernetes_status_conformance` checks each event of the stream instead.
- `kubernetes_status_conformance` replaces schemathesis' `status_code_conformance`: like
  kube-apiserver's, Eddy's OpenAPI documents list only the success codes and 401 of each
  operation, while every failure is answered with a `metav1.Status` whose HTTP code is that of
  the error (400, 403, 404, 405, 406, 409, 410, 413, 415, 422, 429, ...). The check asserts
  exactly that contract: a success code is one the document lists, a failure is a 4xx (5xx is
  `not_a_server_error`'s) carrying a `Status` with `kind: Status`, `status: Failure` and the
  same `code`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import threading

import yaml

import schemathesis
from schemathesis.core.failures import MalformedJson, ServerError
from schemathesis.openapi.checks import ContentDeserializationError, JsonSchemaError

# CPython 3.11's `ast.parse` is not thread-safe ("AST constructor recursion depth mismatch"),
# and hypothesis parses lambdas' sources while schemathesis' workers generate in threads.
_AST_LOCK = threading.Lock()
_ast_parse = ast.parse


def _locked_parse(*args, **kwargs):
    with _AST_LOCK:
        return _ast_parse(*args, **kwargs)


ast.parse = _locked_parse

APPLY_PATCH = "application/apply-patch+yaml"


@schemathesis.serializer(APPLY_PATCH)
def apply_patch_yaml(ctx, value):
    """YAML, as kubectl's server-side apply sends it (None: no body)."""
    if value is None:
        return None
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False).encode("utf-8")


def _truthy(value) -> bool:
    """Whether a query value turns a list into a watch (`true` or `1`, as Eddy reads it)."""
    if isinstance(value, (list, tuple)):
        return any(_truthy(v) for v in value)
    return str(value).lower() in ("true", "1")


def _bounded_watch_timeout(value):
    """A generated `timeoutSeconds` kept when it ends a watch within a second, else 1."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return value if value < 0 or value == 1 else 1
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            return value  # answered 400, as kube-apiserver does
        return value if number < 0 or number == 1 else 1
    return 1


def _seeded():
    value = os.environ.get("EDDY_FUZZ_SEEDED", "")
    namespace, _, name = value.partition("/")
    return (namespace, name) if namespace and name else None


def _picked(case) -> bool:
    """Half of the cases, the same half on every replay."""
    digest = hashlib.sha256(repr(sorted((case.path_parameters or {}).items())).encode()).digest()
    return digest[0] % 2 == 0


def _point_at_seeded_object(case):
    seeded = _seeded()
    params = case.path_parameters
    if seeded is None or not isinstance(params, dict) or "name" not in params or not _picked(case):
        return
    method = case.method.upper()
    if method == "DELETE" and not (isinstance(case.query, dict) and case.query.get("dryRun") == "All"):
        return
    namespace, name = seeded
    params["namespace"], params["name"] = namespace, name
    if method == "PUT" and isinstance(case.body, dict) and isinstance(case.body.get("metadata"), dict):
        case.body["metadata"]["name"] = name
        case.body["metadata"]["namespace"] = namespace


@schemathesis.hook
def before_call(context, case, kwargs):
    """Bounds watches (every phase's cases pass here): `timeoutSeconds` stays when negative
    (the stream ends at once), malformed (400) or 1, and becomes 1 otherwise. Points half of
    the object requests at the seeded objects."""
    if _is_watch(case):
        case.query["timeoutSeconds"] = _bounded_watch_timeout(case.query.get("timeoutSeconds"))
    _point_at_seeded_object(case)


def _is_watch(case) -> bool:
    """A GET with `watch=true`: other methods ignore the parameter."""
    return case.method.upper() == "GET" and isinstance(case.query, dict) and _truthy(case.query.get("watch"))


def _too_large_resource_version(response) -> bool:
    if response.status_code != 504:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    causes = (body.get("details") or {}).get("causes") or []
    return body.get("reason") == "Timeout" and any(c.get("reason") == "ResourceVersionTooLarge" for c in causes)


_too_large_lock = threading.Lock()


def _record_too_large(case) -> None:
    """Appends the request to `$EDDY_FUZZ_TOO_LARGE_LOG`: the test counts the server's 5xx from
    its metrics, and takes these deliberate 504s out of that count."""
    path = os.environ.get("EDDY_FUZZ_TOO_LARGE_LOG")
    if not path:
        return
    where = getattr(case, "formatted_path", case.path)
    query = json.dumps(case.query, default=str)
    with _too_large_lock, open(path, "a", encoding="utf-8") as log:
        log.write(f"{case.method.upper()} {where} {query}\n")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure but the two deliberate kube-apiserver answers above."""
    if isinstance(failure, ServerError) and _too_large_resource_version(response):
        _record_too_large(case)
        return False
    if _is_watch(case) and response.status_code == 200:
        return not isinstance(failure, (MalformedJson, JsonSchemaError, ContentDeserializationError))
    return True


WATCH_EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")


def _check_watch_stream(response):
    for number, line in enumerate(response.content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"watch event {number} is not JSON: {e}") from None
        if not isinstance(event, dict) or event.get("type") not in WATCH_EVENT_TYPES:
            raise AssertionError(f"watch event {number} has no valid type: {line[:200]!r}")
        if not isinstance(event.get("object"), dict):
            raise AssertionError(f"watch event {number} has no object")


def _documented_codes(case) -> set[str]:
    responses = case.operation.definition.raw.get("responses", {}) or {}
    return {str(code) for code in responses}


@schemathesis.check
def kubernetes_status_conformance(ctx, response, case):
    """Success codes are documented ones; failures are 4xx `Status` objects with that code."""
    code = response.status_code
    if code == 200 and _is_watch(case):
        _check_watch_stream(response)
        return None
    if 200 <= code < 300:
        documented = _documented_codes(case)
        if documented and str(code) not in documented and "default" not in documented:
            raise AssertionError(f"success code {code} is not documented (documented: {sorted(documented)})")
        return None
    if code >= 500 and not _too_large_resource_version(response):
        # not_a_server_error reports these.
        return None
    if code < 400 or code >= 600:
        raise AssertionError(f"unexpected status {code} for an API operation")
    content_type = (response.headers.get("content-type") or [""])[0]
    if "yaml" in content_type:
        body = yaml.safe_load(response.content)
    else:
        try:
            body = json.loads(response.content)
        except ValueError as e:
            raise AssertionError(f"{code} answer is not a JSON Status ({content_type}): {e}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"{code} answer is not a Status object")
    problems = []
    if body.get("kind") != "Status" or body.get("apiVersion") != "v1":
        problems.append(f"kind/apiVersion {body.get('kind')!r}/{body.get('apiVersion')!r}")
    if body.get("status") != "Failure":
        problems.append(f"status {body.get('status')!r}")
    if body.get("code") != code:
        problems.append(f"code {body.get('code')!r} != HTTP {code}")
    if not body.get("reason"):
        problems.append("no reason")
    if problems:
        raise AssertionError(f"{code} answer is not a conforming Status: {', '.join(problems)}")
    return None
