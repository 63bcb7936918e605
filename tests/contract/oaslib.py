"""oaslib.py - load FlatRender's OpenAPI 3.0 contracts, resolve $refs, turn schemas into JSON Schema.

Used by tests/contract/run.py (structural checks) and tests/e2e/client.py (response validation).
Standard library plus PyYAML and jsonschema (Debian python3-yaml, python3-jsonschema).

- Loader: loads YAML files once, resolves '$ref' (local '#/...' and relative 'file.yaml#/...').
- inline(): a deep copy of a node with every $ref replaced by its target.
- to_json_schema(): OpenAPI 3.0 Schema Object -> JSON Schema draft 4 (nullable -> "null").
- find_operation() / response_schema(): what the contract says about a method + concrete path.
- validate(): instance against an OpenAPI schema, with strict uuid / date / date-time formats.
"""
import copy
import datetime
import os
import re

import jsonschema
import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# OpenAPI-only keywords with no JSON Schema meaning (dropped after translation).
_OAS_ONLY = ("nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs",
             "example", "deprecated")


class RefError(Exception):
    """A $ref that does not resolve (missing file, bad pointer, cycle)."""


def _unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


class Loader:
    """Loads contract files and resolves references between them. Files are cached by path."""

    def __init__(self):
        self.docs = {}

    def load(self, path):
        path = os.path.abspath(path)
        if path not in self.docs:
            with open(path, encoding="utf-8") as f:
                self.docs[path] = yaml.safe_load(f)
        return self.docs[path]

    def resolve(self, ref, base):
        """Returns (target node, file it lives in, canonical id 'abs/path#/pointer')."""
        if not isinstance(ref, str):
            raise RefError("$ref is not a string: %r" % (ref,))
        file_part, _, pointer = ref.partition("#")
        target_file = base
        if file_part:
            target_file = os.path.normpath(os.path.join(os.path.dirname(base), file_part))
        if not os.path.exists(target_file):
            raise RefError("%s: file %s not found" % (ref, target_file))
        try:
            node = self.load(target_file)
        except yaml.YAMLError as e:
            raise RefError("%s: %s does not parse: %s" % (ref, target_file, e)) from e
        if pointer and not pointer.startswith("/"):
            raise RefError("%s: pointer must start with '/'" % ref)
        for raw in pointer.split("/")[1:]:
            token = _unescape(raw)
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise RefError("%s: '%s' not found in %s" % (ref, token, target_file))
        return node, target_file, "%s#%s" % (target_file, pointer)

    def deref(self, node, base, seen=None):
        """Follows a chain of $ref objects. Returns (node, base, [ids followed])."""
        chain = []
        while isinstance(node, dict) and "$ref" in node:
            node, base, ident = self.resolve(node["$ref"], base)
            if ident in chain:
                raise RefError("reference cycle: %s" % " -> ".join(chain + [ident]))
            chain.append(ident)
        return node, base, chain

    def inline(self, node, base, _stack=()):
        """Deep copy of node with every $ref replaced by its (inlined) target."""
        if isinstance(node, dict):
            if "$ref" in node:
                target, tbase, ident = self.resolve(node["$ref"], base)
                if ident in _stack:
                    raise RefError("reference cycle through %s" % ident)
                return self.inline(target, tbase, _stack + (ident,))
            return {k: self.inline(v, base, _stack) for k, v in node.items()}
        if isinstance(node, list):
            return [self.inline(v, base, _stack) for v in node]
        return copy.deepcopy(node)


def to_json_schema(schema):
    """Translates an inlined OpenAPI 3.0 Schema Object into JSON Schema draft 4.

    nullable: true with a type becomes type [t, "null"]; without a type it becomes
    anyOf [schema, {type: null}]. An enum is left as written: OpenAPI 3.0.3 requires a nullable
    enum to list null itself."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, val in schema.items():
        if key in _OAS_ONLY:
            continue
        if key == "properties" and isinstance(val, dict):
            out[key] = {name: to_json_schema(s) for name, s in val.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(val, dict):
            out[key] = to_json_schema(val)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(val, list):
            out[key] = [to_json_schema(s) for s in val]
        else:
            out[key] = copy.deepcopy(val)
    if schema.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


# ---- formats -------------------------------------------------------------------------------

FORMATS = jsonschema.FormatChecker(formats=())

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_DATE_TIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


@FORMATS.checks("uuid")
def _is_uuid(value):
    """UUID v4, lower case (the FlatRender id convention)."""
    return not isinstance(value, str) or bool(_UUID_RE.match(value))


@FORMATS.checks("date")
def _is_date(value):
    if not isinstance(value, str):
        return True
    if not _DATE_RE.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@FORMATS.checks("date-time")
def _is_date_time(value):
    """ISO 8601 / RFC 3339 with an explicit zone: 2026-05-27T10:15:00Z."""
    if not isinstance(value, str):
        return True
    m = _DATE_TIME_RE.match(value)
    if not m or not _is_date(m.group(1)):
        return False
    return int(m.group(2)) < 24 and int(m.group(3)) < 60 and int(m.group(4)) < 61


@FORMATS.checks("email")
def _is_email(value):
    return not isinstance(value, str) or bool(_EMAIL_RE.match(value))


def validate(instance, oas_schema):
    """Validates instance against an inlined OpenAPI schema. Returns a list of error strings."""
    validator = jsonschema.Draft4Validator(to_json_schema(oas_schema), format_checker=FORMATS)
    errs = []
    for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "<root>"
        errs.append("%s: %s" % (where, e.message))
    return errs


# ---- operations ----------------------------------------------------------------------------

def _segments(path):
    return path.strip("/").split("/") if path.strip("/") else []


def match_template(template, path):
    """True when a concrete path matches an OpenAPI path template ({x} = one non-empty segment)."""
    t, p = _segments(template), _segments(path)
    if len(t) != len(p):
        return False
    for ts, ps in zip(t, p):
        if ts.startswith("{") and ts.endswith("}"):
            if not ps:
                return False
        elif ts != ps:
            return False
    return True


def find_path(spec, path):
    """The path template of spec that a concrete path (no query) matches, or None.
    Exact segments win over {params}: the template with the fewest params is chosen."""
    best = None
    for template in (spec.get("paths") or {}):
        if match_template(template, path):
            nparams = template.count("{")
            if best is None or nparams < best[0]:
                best = (nparams, template)
    return best[1] if best else None


def find_operation(spec, method, path):
    """(template, operation) for a method + concrete path; either may be None."""
    template = find_path(spec, path.split("?", 1)[0])
    if template is None:
        return None, None
    item = spec["paths"][template] or {}
    return template, item.get(method.lower())


def response_object(loader, spec_file, operation, status):
    """The (dereferenced) response object the operation documents for status, or None."""
    responses = operation.get("responses") or {}
    resp = responses.get(str(status), responses.get("default"))
    if resp is None:
        return None
    node, base, _ = loader.deref(resp, spec_file)
    return loader.inline(node, base)


def path_template_params(template):
    return re.findall(r"\{([^}/]+)\}", template)


def normalise_template(template):
    """'/v1/auth/sessions/{session_id}' -> '/v1/auth/sessions/{}' (param names do not matter)."""
    return re.sub(r"\{[^}/]*\}", "{}", template)


class Report:
    """Collects the PASS/FAIL lines every contract check prints, and the final tally."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, problems):
        if callable(problems):
            try:
                problems = problems()
            except Exception as e:  # a checker bug or a document too broken to walk
                problems = ["check crashed: %s: %s" % (type(e).__name__, e)]
        if problems:
            self.failed += 1
            print("FAIL  %s" % name)
            for p in problems[:50]:
                print("        - %s" % p)
            if len(problems) > 50:
                print("        - ... and %d more" % (len(problems) - 50))
        else:
            self.passed += 1
            print("PASS  %s" % name)
