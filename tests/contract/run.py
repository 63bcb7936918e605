#!/usr/bin/python3
"""run.py - code-vs-contract checks for FlatRender's REST contracts.

    /usr/bin/python3 tests/contract/run.py [BINDIR] [--contracts DIR] [--no-routes]

1. Every contracts/rest/*.yaml (and contracts/common/*.yaml) is a structurally valid OpenAPI
   3.0 document: it parses, has openapi 3.0.x / info / paths, every $ref resolves (across
   files too), every operation has responses with descriptions and a success status, path
   parameters match the template, security requirements name defined schemes, every error
   response (4xx/5xx) uses the shared Error envelope, every schema uses only OpenAPI 3.0
   keywords correctly, passes the JSON Schema draft 4 meta-schema after `nullable` is
   translated, and every object schema with properties says whether it is closed.
2. Route check, both directions: `BINDIR/identity --routes` against identity.openapi.yaml,
   `BINDIR/billing --routes` against billing.openapi.yaml, and
   `BINDIR/gateway --routes` against gateway-public.openapi.yaml + reseller-api.openapi.yaml
   together (the browser API and the API-key reseller API). A served route missing from the
   contracts fails, and so does a contract operation that is not served. {param} names
   do not matter. BINDIR: argv[1], else $FR_BIN_DIR, else build/san/bin (relative paths are
   taken from the current directory, then from the repository root).

Prints one PASS/FAIL line per check (with the reasons under a FAIL), then `N passed, M failed`.
Exit status 1 when anything failed.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oaslib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# daemon -> the contract(s) its `--routes` output must match exactly (a tuple: their union).
DAEMON_CONTRACTS = (("identity", "rest/identity.openapi.yaml"),
                    ("billing", "rest/billing.openapi.yaml"),
                    ("gateway", ("rest/gateway-public.openapi.yaml",
                                 "rest/reseller-api.openapi.yaml")))
# Methods answered generically for every path (CORS preflight), never listed per operation.
GENERIC_METHODS = {"OPTIONS", "HEAD"}
# The shared error envelopes every error response must use.
ERROR_SCHEMAS = ("common/types.yaml#/components/schemas/Error",
                 "common/types.yaml#/components/schemas/ValidationError")

SCHEMA_KEYWORDS = {
    "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "enum", "type", "allOf", "oneOf", "anyOf",
    "not", "items", "properties", "additionalProperties", "description", "format", "default",
    "nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example",
    "deprecated"}
OAS_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
PATH_ITEM_KEYS = set(oaslib.HTTP_METHODS) | {"$ref", "summary", "description", "servers",
                                             "parameters"}




# ---- walking a document ---------------------------------------------------------------------

def walk(node, path=""):
    """Yields (json path, node) for every dict in the tree."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, "%s/%s" % (path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (path, i))


def operations(doc):
    """Yields (template, method, path item, operation)."""
    for template, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in oaslib.HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield template, method, item, item[method]


def schema_sites(doc):
    """Yields (json path, schema node) for every top-level Schema Object position."""
    comps = doc.get("components") or {}
    for name, s in (comps.get("schemas") or {}).items():
        yield "/components/schemas/%s" % name, s
    for kind in ("parameters", "headers"):
        for name, p in (comps.get(kind) or {}).items():
            if isinstance(p, dict) and "schema" in p:
                yield "/components/%s/%s/schema" % (kind, name), p["schema"]
    for kind in ("responses", "requestBodies"):
        for name, r in (comps.get(kind) or {}).items():
            yield from _body_schemas(r, "/components/%s/%s" % (kind, name))
    for template, method, item, op in operations(doc):
        base = "/paths/%s/%s" % (template, method)
        for i, p in enumerate((item.get("parameters") or []) + (op.get("parameters") or [])):
            if isinstance(p, dict) and "schema" in p:
                yield "%s/parameters/%d/schema" % (base, i), p["schema"]
        if isinstance(op.get("requestBody"), dict):
            yield from _body_schemas(op["requestBody"], base + "/requestBody")
        for code, r in (op.get("responses") or {}).items():
            yield from _body_schemas(r, "%s/responses/%s" % (base, code))


def _body_schemas(obj, base):
    if not isinstance(obj, dict):
        return
    for ctype, media in (obj.get("content") or {}).items():
        if isinstance(media, dict) and "schema" in media:
            yield "%s/content/%s/schema" % (base, ctype), media["schema"]
    for hname, h in (obj.get("headers") or {}).items():
        if isinstance(h, dict) and "schema" in h:
            yield "%s/headers/%s/schema" % (base, hname), h["schema"]


# ---- the structural checks ------------------------------------------------------------------

def header_problems(doc):
    problems = []
    if not re.match(r"^3\.0\.\d+$", str(doc.get("openapi", ""))):
        problems.append("openapi must be 3.0.x (is %r)" % doc.get("openapi"))
    info = doc.get("info")
    if not isinstance(info, dict) or not info.get("title") or not info.get("version"):
        problems.append("info.title and info.version are required")
    if not isinstance(doc.get("paths"), dict):
        problems.append("paths must be an object")
    for key in doc:
        if key not in ("openapi", "info", "servers", "paths", "components", "security", "tags",
                       "externalDocs") and not str(key).startswith("x-"):
            problems.append("unknown top-level key %r" % key)
    return problems


def ref_problems(loader, doc, path):
    problems, count = [], 0
    for where, node in walk(doc):
        if "$ref" not in node:
            continue
        count += 1
        extra = [k for k in node if k != "$ref"]
        if extra:
            problems.append("%s: keys beside $ref are ignored by OpenAPI 3.0: %s" % (where, extra))
        try:
            loader.resolve(node["$ref"], path)
        except oaslib.RefError as e:
            problems.append("%s: %s" % (where, e))
    return problems, count


def _deref(loader, node, path):
    try:
        return loader.deref(node, path)
    except oaslib.RefError:
        return None, path, []  # reported by the ref check


def operation_problems(loader, doc, path):
    problems, op_ids = [], {}
    schemes = set(((doc.get("components") or {}).get("securitySchemes") or {}).keys())
    for req in doc.get("security") or []:
        problems += ["top-level security: unknown scheme %r" % k for k in req if k not in schemes]
    for template, item in (doc.get("paths") or {}).items():
        if not template.startswith("/"):
            problems.append("path %r must start with '/'" % template)
        if not isinstance(item, dict):
            problems.append("%s: path item must be an object" % template)
            continue
        problems += ["%s: unknown key %r" % (template, k) for k in item
                     if k not in PATH_ITEM_KEYS and not str(k).startswith("x-")]
    for template, method, item, op in operations(doc):
        where = "%s %s" % (method.upper(), template)
        oid = op.get("operationId")
        if oid in op_ids:
            problems.append("%s: operationId %r also used by %s" % (where, oid, op_ids[oid]))
        elif oid:
            op_ids[oid] = where
        for req in op.get("security") or []:
            problems += ["%s: unknown security scheme %r" % (where, k) for k in req
                         if k not in schemes]
        problems += _param_problems(loader, path, template, item, op, where)
        problems += _response_problems(loader, path, op, where)
    return problems


def _param_problems(loader, path, template, item, op, where):
    problems, declared = [], set()
    for p in (item.get("parameters") or []) + (op.get("parameters") or []):
        p, _, _ = _deref(loader, p, path)
        if not isinstance(p, dict):
            continue
        if not p.get("name") or p.get("in") not in ("path", "query", "header", "cookie"):
            problems.append("%s: parameter needs name and a valid 'in': %r" % (where, p))
            continue
        if "schema" not in p and "content" not in p:
            problems.append("%s: parameter %s needs a schema" % (where, p["name"]))
        if p["in"] == "path":
            declared.add(p["name"])
            if p.get("required") is not True:
                problems.append("%s: path parameter %s must be required: true" % (where, p["name"]))
    in_template = set(oaslib.path_template_params(template))
    for name in sorted(in_template - declared):
        problems.append("%s: {%s} in the path is not declared as a parameter" % (where, name))
    for name in sorted(declared - in_template):
        problems.append("%s: path parameter %s is not in the path" % (where, name))
    return problems


def _response_problems(loader, path, op, where):
    problems = []
    responses = op.get("responses")
    if not isinstance(responses, dict) or not responses:
        return ["%s: no responses" % where]
    if not any(re.match(r"^[23]\d\d$", str(c)) for c in responses):
        problems.append("%s: no 2xx/3xx response" % where)
    for code, resp in responses.items():
        if not isinstance(code, str):
            problems.append("%s: response code %r must be a quoted string" % (where, code))
        elif not re.match(r"^([1-5]\d\d|[1-5]XX|default)$", code):
            problems.append("%s: bad response code %r" % (where, code))
        node, _, _ = _deref(loader, resp, path)
        if isinstance(node, dict) and not node.get("description"):
            problems.append("%s %s: response needs a description" % (where, code))
    return problems


def error_envelope_problems(loader, doc, path):
    """Every 4xx/5xx response must have an application/json schema that is a $ref to the shared
    Error (or ValidationError) schema. x-error-envelope: false opts a response out (readyz)."""
    sites = []
    for template, method, _, op in operations(doc):
        for code, resp in (op.get("responses") or {}).items():
            if re.match(r"^[45]", str(code)):
                sites.append(("%s %s %s" % (method.upper(), template, code), resp))
    for name, resp in ((doc.get("components") or {}).get("responses") or {}).items():
        sites.append(("components/responses/%s" % name, resp))
    problems = []
    for where, resp in sites:
        node, base, _ = _deref(loader, resp, path)
        if not isinstance(node, dict) or node.get("x-error-envelope") is False:
            continue
        schema = ((node.get("content") or {}).get("application/json") or {}).get("schema")
        if not isinstance(schema, dict) or "$ref" not in schema:
            problems.append("%s: needs application/json with a $ref to the Error schema" % where)
            continue
        _, _, chain = _deref(loader, schema, base)
        target = chain[-1] if chain else ""
        if not any(target.endswith(os.sep + e) or target.endswith("/" + e) for e in ERROR_SCHEMAS):
            problems.append("%s: schema is %s, not the shared Error envelope" % (where, target))
    return problems


def schema_problems(loader, doc, path):
    """OpenAPI 3.0 Schema Object rules plus the JSON Schema meta-schema, for every schema."""
    problems = []
    for where, schema in schema_sites(doc):
        _subset_problems(schema, where, problems)
        try:
            inlined = loader.inline(schema, path)
        except oaslib.RefError:
            continue  # reported by the ref check
        try:
            jsonschema.Draft4Validator.check_schema(oaslib.to_json_schema(inlined))
        except jsonschema.SchemaError as e:
            problems.append("%s: not a valid JSON Schema: %s" % (where, e.message))
    return problems


def _subset_problems(s, where, problems):
    if not isinstance(s, dict):
        problems.append("%s: schema must be an object" % where)
        return
    if "$ref" in s:
        return
    for k in s:
        if k not in SCHEMA_KEYWORDS and not str(k).startswith("x-"):
            problems.append("%s: unknown schema keyword %r" % (where, k))
    t = s.get("type")
    if t is not None and (not isinstance(t, str) or t not in OAS_TYPES):
        problems.append("%s: type must be one of %s (got %r)" % (where, sorted(OAS_TYPES), t))
    if t == "array" and "items" not in s:
        problems.append("%s: type array requires items" % where)
    if "nullable" in s and not isinstance(s["nullable"], bool):
        problems.append("%s: nullable must be a boolean" % where)
    req = s.get("required")
    if req is not None:
        if not isinstance(req, list) or not req or len(set(map(str, req))) != len(req):
            problems.append("%s: required must be a non-empty list of unique names" % where)
        elif isinstance(s.get("properties"), dict):
            problems += ["%s: required %r is not a property" % (where, r) for r in req
                         if r not in s["properties"]]
    if "enum" in s:
        _enum_problems(s, where, problems)
    if "pattern" in s:
        try:
            re.compile(s["pattern"])
        except (re.error, TypeError) as e:
            problems.append("%s: bad pattern: %s" % (where, e))
    _recurse_subschemas(s, where, problems)


def _enum_problems(s, where, problems):
    enum = s["enum"]
    if not isinstance(enum, list) or not enum:
        problems.append("%s: enum must be a non-empty list" % where)
    elif s.get("nullable") is True and None not in enum:
        problems.append("%s: nullable enum must list null (OpenAPI 3.0.3)" % where)
    elif s.get("nullable") is not True and None in enum:
        problems.append("%s: enum lists null but the schema is not nullable" % where)


def _recurse_subschemas(s, where, problems):
    for name, sub in (s.get("properties") or {}).items():
        _subset_problems(sub, "%s/properties/%s" % (where, name), problems)
    for key in ("items", "not"):
        if key in s:
            _subset_problems(s[key], "%s/%s" % (where, key), problems)
    if isinstance(s.get("additionalProperties"), dict):
        _subset_problems(s["additionalProperties"], where + "/additionalProperties", problems)
    elif "additionalProperties" in s and not isinstance(s["additionalProperties"], bool):
        problems.append("%s: additionalProperties must be a boolean or a schema" % where)
    for key in ("allOf", "anyOf", "oneOf"):
        if key in s:
            if not isinstance(s[key], list) or not s[key]:
                problems.append("%s: %s must be a non-empty list" % (where, key))
                continue
            for i, sub in enumerate(s[key]):
                _subset_problems(sub, "%s/%s/%d" % (where, key, i), problems)


def closed_object_problems(doc):
    """An object schema with properties must say additionalProperties (true or false), so
    whether a response may grow fields is a decision, not an accident."""
    problems = []
    for where, schema in schema_sites(doc):
        for sub_where, node in walk(schema, where):
            if isinstance(node.get("properties"), dict) and "additionalProperties" not in node \
                    and "$ref" not in node and not sub_where.endswith("/properties"):
                problems.append("%s: object with properties lacks additionalProperties" % sub_where)
    return problems


def check_file(report, loader, path, contracts_dir):
    name = os.path.relpath(path, contracts_dir)
    try:
        doc = loader.load(path)
    except (OSError, yaml.YAMLError) as e:
        report.check("%s: parses as YAML" % name, [str(e)])
        return
    if not isinstance(doc, dict):
        report.check("%s: parses as YAML" % name, ["top level is not a mapping"])
        return
    report.check("%s: parses as YAML" % name, [])
    report.check("%s: OpenAPI 3.0 header (openapi, info, paths)" % name,
                 lambda: header_problems(doc))
    problems, nrefs = ref_problems(loader, doc, path)
    report.check("%s: every $ref resolves (%d refs)" % (name, nrefs), problems)
    nops = sum(1 for _ in operations(doc))
    report.check("%s: operations well formed (%d operations)" % (name, nops),
                 lambda: operation_problems(loader, doc, path))
    report.check("%s: error responses use the shared Error envelope" % name,
                 lambda: error_envelope_problems(loader, doc, path))
    report.check("%s: schemas are valid OpenAPI 3.0 / JSON Schema" % name,
                 lambda: schema_problems(loader, doc, path))
    report.check("%s: object schemas declare additionalProperties" % name,
                 lambda: closed_object_problems(doc))


# ---- the route check ------------------------------------------------------------------------

def served_routes(binary):
    """Runs `binary --routes`. Returns (set of (METHOD, normalised path), problems)."""
    if not os.access(binary, os.X_OK):
        return set(), ["%s not found or not executable (build it first)" % binary]
    try:
        out = subprocess.run([binary, "--routes"], capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return set(), ["%s --routes: %s" % (binary, e)]
    if out.returncode != 0:
        return set(), ["%s --routes exited %d: %s" % (binary, out.returncode,
                                                       out.stderr.strip()[-500:])]
    routes, problems = set(), []
    for line in out.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not re.match(r"^[A-Z]+$", parts[0]) or not parts[1].startswith("/"):
            problems.append("unexpected --routes line: %r" % line)
            continue
        if parts[0] in GENERIC_METHODS:
            continue
        routes.add((parts[0], oaslib.normalise_template(parts[1])))
    if not routes and not problems:
        problems.append("%s --routes printed no routes" % binary)
    return routes, problems


def contract_routes(doc):
    return {(m.upper(), oaslib.normalise_template(t)) for t, m, _, _ in operations(doc)
            if m.upper() not in GENERIC_METHODS}


def check_routes(report, loader, bindir, daemon, contract_paths):
    name = "routes: %s --routes == %s" % (
        daemon, " + ".join(os.path.basename(p) for p in contract_paths))
    served, problems = served_routes(os.path.join(bindir, daemon))
    if problems:
        report.check(name, problems)
        return
    documented = set()
    try:
        for path in contract_paths:
            documented |= contract_routes(loader.load(path))
    except (OSError, yaml.YAMLError) as e:
        report.check(name, ["cannot load contract: %s" % e])
        return
    problems = ["served but not in the contract: %s %s" % r for r in sorted(served - documented)]
    problems += ["in the contract but not served: %s %s" % r for r in sorted(documented - served)]
    report.check("%s (%d routes)" % (name, len(served)), problems)


def resolve_bindir(arg):
    bindir = arg or os.environ.get("FR_BIN_DIR") or "build/san/bin"
    if os.path.isabs(bindir) or os.path.isdir(bindir):
        return os.path.abspath(bindir)
    return os.path.join(ROOT, bindir)


def main(argv):
    ap = argparse.ArgumentParser(description="FlatRender code-vs-contract checks")
    ap.add_argument("bindir", nargs="?", help="directory with the identity and gateway binaries")
    ap.add_argument("--contracts", default=os.path.join(ROOT, "contracts"),
                    help="contracts directory (default: the repository's)")
    ap.add_argument("--no-routes", action="store_true", help="only the structural checks")
    args = ap.parse_args(argv)
    contracts_dir = os.path.abspath(args.contracts)
    report, loader = oaslib.Report(), oaslib.Loader()
    files = sorted(glob.glob(os.path.join(contracts_dir, "common", "*.yaml")))
    files += sorted(glob.glob(os.path.join(contracts_dir, "rest", "*.yaml")))
    if not files:
        report.check("contracts found in %s" % contracts_dir, ["no *.yaml files"])
    for path in files:
        check_file(report, loader, path, contracts_dir)
    if not args.no_routes:
        bindir = resolve_bindir(args.bindir)
        print("# binaries from %s" % bindir)
        for daemon, rel in DAEMON_CONTRACTS:
            rels = (rel,) if isinstance(rel, str) else rel
            check_routes(report, loader, bindir, daemon,
                         [os.path.join(contracts_dir, r) for r in rels])
    print("%d passed, %d failed" % (report.passed, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
