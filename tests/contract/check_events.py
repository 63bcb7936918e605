#!/usr/bin/python3
"""check_events.py - checks FlatRender's event contracts (contracts/events/).

    /usr/bin/python3 tests/contract/check_events.py [--contracts DIR]

1. envelope.yaml and every other events/*.yaml parses (duplicate keys are errors), declares
   JSON Schema draft 2020-12 and passes its meta-schema (jsonschema check_schema).
2. Every schema key under $defs is an event type <domain>.<entity>.<event>.v<N> (lower-case
   [a-z0-9_] words), defined in one file only, and follows the payload conventions: an object
   that is closed (additionalProperties: false) and lists every property as required (nested
   objects too), *_id fields are uuid, *_ids arrays of uuid, *_at date-time, *_minor /
   *_seconds / *_bytes integers; it has examples, and they validate (strict formats).
3. The catalog (the tables under "## Catalog" in events/README.md) has the columns type,
   producer, consumers, when, payload, status, schema; every row names a well-formed event
   type once, a producer, status `emitted` or `planned`, and the schema file defining it.
4. Both directions: every schema key has a catalog row, every catalog row has a schema.

Prints one PASS/FAIL line per check (reasons under a FAIL) and ends with `N passed, M failed`;
exit status 1 when anything failed. The loaders are also used by tests/e2e/events.py.
Standard library plus PyYAML and jsonschema (Debian python3-yaml, python3-jsonschema).
"""
import argparse
import glob
import os
import re
import sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oaslib  # noqa: E402  (strict uuid / date-time / email formats, shared with the REST tests)

ROOT = os.path.dirname(os.path.dirname(HERE))
EVENTS_DIR = os.path.join(ROOT, "contracts", "events")
DRAFT = "https://json-schema.org/draft/2020-12/schema"
Validator = jsonschema.Draft202012Validator
ENVELOPE_FILE = "envelope.yaml"
EVENT_TYPE_RE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+\.v[1-9][0-9]*$")
STATUSES = ("emitted", "planned")
CATALOG_COLUMNS = ("type", "producer", "consumers", "when", "payload", "status", "schema")
TOP_KEYS = {"$schema", "$id", "title", "description", "$defs"}
_REGEX_FORMAT = jsonschema.FormatChecker(formats=("regex",))
NOT_UUID_IDS = {"trace_id"}  # a request id ([A-Za-z0-9._-]{1,64}), not necessarily a UUID




# ---- loading --------------------------------------------------------------------------------

class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (a duplicated event type would silently
    replace the first schema)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def schema_files(events_dir=EVENTS_DIR):
    """The per-domain schema files (every events/*.yaml but the envelope), sorted."""
    return sorted(p for p in glob.glob(os.path.join(events_dir, "*.yaml"))
                  if os.path.basename(p) != ENVELOPE_FILE)


def validator(schema):
    """A draft 2020-12 validator with the strict FlatRender formats (uuid v4 lower case,
    date-time with zone, date, email)."""
    return Validator(schema, format_checker=oaslib.FORMATS)


def errors(schema_validator, instance):
    """Validation errors as 'path: message' strings."""
    out = []
    for e in sorted(schema_validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "<root>"
        out.append("%s: %s" % (where, e.message))
    return out


def load_schemas(events_dir=EVENTS_DIR):
    """Returns (envelope schema or None, {event_type: (file name, schema)}, problems).
    A file that does not load is reported in problems and contributes nothing."""
    problems, types = [], {}
    envelope = None
    try:
        envelope = load_yaml(os.path.join(events_dir, ENVELOPE_FILE))
    except (OSError, yaml.YAMLError) as e:
        problems.append("%s: %s" % (ENVELOPE_FILE, e))
    for path in schema_files(events_dir):
        name = os.path.basename(path)
        try:
            doc = load_yaml(path)
        except (OSError, yaml.YAMLError) as e:
            problems.append("%s: %s" % (name, e))
            continue
        defs = doc.get("$defs") if isinstance(doc, dict) else None
        if not isinstance(defs, dict):
            problems.append("%s: no $defs mapping" % name)
            continue
        for key, schema in defs.items():
            if key in types:
                problems.append("%s: %s is also defined in %s" % (name, key, types[key][0]))
            else:
                types[key] = (name, schema)
    return envelope, types, problems


def _split_row(line):
    cells = line.strip()
    if cells.startswith("|"):
        cells = cells[1:]
    if cells.endswith("|"):
        cells = cells[:-1]
    return [c.strip() for c in cells.split("|")]


def _is_separator(line):
    return bool(re.match(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", line.strip()))


def _strip_code(cell):
    return cell.strip().strip("`").strip()


def parse_catalog(readme_path):
    """Parses the tables under the '## Catalog' heading of events/README.md.

    Returns ({event_type: row}, problems); row = {column: text, 'line': n, 'schema_file':
    name or None}; the type and producer cells are stored without backticks."""
    try:
        with open(readme_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        return {}, [str(e)]
    rows, problems, in_section, header = {}, [], False, None
    found_section = False
    for n, line in enumerate(lines, 1):
        if re.match(r"^##\s", line):
            in_section = bool(re.match(r"^##\s+Catalog\b", line))
            found_section = found_section or in_section
            header = None
            continue
        if not in_section:
            continue
        if not line.strip().startswith("|"):
            header = None
            continue
        if header is None:
            header = [c.lower() for c in _split_row(line)]
            missing = [c for c in CATALOG_COLUMNS if c not in header]
            if missing:
                problems.append("line %d: catalog table lacks columns %s (has %s)"
                                % (n, missing, header))
            continue
        if _is_separator(line):
            continue
        _catalog_row(rows, problems, header, _split_row(line), n)
    if not found_section:
        problems.append("no '## Catalog' section")
    elif not rows and not problems:
        problems.append("the catalog has no rows")
    return rows, problems


def _catalog_row(rows, problems, header, cells, n):
    if len(cells) != len(header):
        problems.append("line %d: %d cells, the header has %d" % (n, len(cells), len(header)))
        return
    row = dict(zip(header, cells))
    row["line"] = n
    etype = _strip_code(row.get("type", ""))
    row["type"] = etype
    row["producer"] = _strip_code(row.get("producer", ""))
    m = re.search(r"([A-Za-z0-9_-]+\.yaml)", row.get("schema", ""))
    row["schema_file"] = m.group(1) if m else None
    row["status"] = _strip_code(row.get("status", "")).lower()
    if etype in rows:
        problems.append("line %d: %s already has a row (line %d)" % (n, etype, rows[etype]["line"]))
        return
    rows[etype] = row


# ---- checks ---------------------------------------------------------------------------------

def header_problems(doc, name):
    if not isinstance(doc, dict):
        return ["%s: top level is not a mapping" % name]
    problems = []
    if doc.get("$schema") != DRAFT:
        problems.append("%s: $schema must be %s (is %r)" % (name, DRAFT, doc.get("$schema")))
    if name != ENVELOPE_FILE:
        problems += ["%s: unexpected top-level key %r" % (name, k) for k in doc
                     if k not in TOP_KEYS]
        if not doc.get("$defs"):
            problems.append("%s: $defs is empty" % name)
    try:
        Validator.check_schema(doc)
    except jsonschema.SchemaError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "<root>"
        problems.append("%s: not a valid draft 2020-12 schema at %s: %s" % (name, where, e.message))
        return problems
    # check_schema does not assert formats: every `pattern` must also compile.
    meta = Validator(Validator.META_SCHEMA, format_checker=_REGEX_FORMAT)
    problems += ["%s: %s" % (name, e) for e in errors(meta, doc)]
    return problems


def _types_of(schema):
    t = schema.get("type")
    return set(t) if isinstance(t, list) else ({t} if t else set())


def _field_problems(name, sub, where):
    """Naming conventions of one property."""
    types, fmt, problems = _types_of(sub), sub.get("format"), []
    if name in NOT_UUID_IDS:
        return problems
    if name.endswith("_id") and not (types <= {"string", "null"} and fmt == "uuid"):
        problems.append("%s: *_id fields are strings with format uuid" % where)
    if name.endswith("_ids") and not (types == {"array"} and
                                      (sub.get("items") or {}).get("format") == "uuid"):
        problems.append("%s: *_ids fields are arrays of uuid" % where)
    if name.endswith("_at") and not (types <= {"string", "null"} and fmt == "date-time"):
        problems.append("%s: *_at fields are strings with format date-time" % where)
    if re.search(r"_(minor|seconds|bytes)$", name) and not types <= {"integer", "null"}:
        problems.append("%s: *_minor / *_seconds / *_bytes fields are integers" % where)
    return problems


def shape_problems(schema, where):
    """A payload schema: a closed object listing every property as required, recursively."""
    if not isinstance(schema, dict):
        return ["%s: schema must be a mapping" % where]
    problems, types = [], _types_of(schema)
    if not types:
        problems.append("%s: no type" % where)
    if "object" in types:
        props = schema.get("properties")
        if not isinstance(props, dict) or not props:
            problems.append("%s: an object needs properties" % where)
            props = {}
        if schema.get("additionalProperties") is not False:
            problems.append("%s: additionalProperties must be false" % where)
        required = schema.get("required") or []
        problems += ["%s: property %s is not required (nullable fields are required too)"
                     % (where, p) for p in props if p not in required]
        problems += ["%s: required %s is not a property" % (where, r) for r in required
                     if r not in props]
        for pname, sub in props.items():
            sub_where = "%s/%s" % (where, pname)
            problems += _field_problems(pname, sub if isinstance(sub, dict) else {}, sub_where)
            problems += shape_problems(sub, sub_where)
    if "array" in types:
        if not isinstance(schema.get("items"), dict):
            problems.append("%s: an array needs items" % where)
        else:
            problems += shape_problems(schema["items"], where + "[]")
    return problems


def example_problems(schema, where):
    examples = schema.get("examples") if isinstance(schema, dict) else None
    if not isinstance(examples, list) or not examples:
        return ["%s: needs examples (at least one valid payload)" % where]
    problems = []
    try:
        v = validator(schema)
        for i, ex in enumerate(examples):
            problems += ["%s examples[%d]: %s" % (where, i, err) for err in errors(v, ex)]
    except (jsonschema.SchemaError, jsonschema.exceptions.UnknownType, re.error) as e:
        return ["%s: examples cannot be validated, the schema is invalid: %s"
                % (where, str(e).splitlines()[0])]
    return problems


def envelope_problems(envelope, types):
    """The envelope is closed like a payload (data itself is any object, checked per type);
    its examples validate, and so does their data against the type's schema."""
    props = envelope.get("properties") or {}
    if "data" not in props or "data" not in (envelope.get("required") or []):
        return ["envelope: data must be a required property"]
    without_data = dict(envelope)
    without_data["properties"] = {k: v for k, v in props.items() if k != "data"}
    without_data["required"] = [r for r in envelope.get("required") or [] if r != "data"]
    problems = shape_problems(without_data, ENVELOPE_FILE)
    if _types_of(props["data"]) != {"object"}:
        problems.append("envelope: data must be of type object")
    problems += example_problems(envelope, ENVELOPE_FILE)
    for i, ex in enumerate(envelope.get("examples") or []):
        etype = ex.get("event_type") if isinstance(ex, dict) else None
        if etype not in types:
            problems.append("%s examples[%d]: event_type %r has no schema"
                            % (ENVELOPE_FILE, i, etype))
            continue
        problems += ["%s examples[%d] data: %s" % (ENVELOPE_FILE, i, err)
                     for err in errors(validator(types[etype][1]), ex.get("data"))]
    return problems


def type_name_problems(names, what):
    return ["%s %r is not <domain>.<entity>.<event>.v<N> (lower-case [a-z0-9_] words)"
            % (what, t) for t in sorted(names) if not EVENT_TYPE_RE.match(str(t))]


def catalog_row_problems(rows, types):
    problems = []
    for etype, row in sorted(rows.items()):
        where = "line %d (%s)" % (row["line"], etype)
        if row["status"] not in STATUSES:
            problems.append("%s: status %r is not one of %s" % (where, row["status"], STATUSES))
        if not re.match(r"^[a-z][a-z0-9-]*$", row["producer"]):
            problems.append("%s: producer %r is not a service name" % (where, row["producer"]))
        for col in ("consumers", "when", "payload"):
            if not row.get(col, "").strip():
                problems.append("%s: empty %s" % (where, col))
        if row["schema_file"] is None:
            problems.append("%s: the schema column names no *.yaml file" % where)
        elif etype in types and types[etype][0] != row["schema_file"]:
            problems.append("%s: schema column says %s, the type is defined in %s"
                            % (where, row["schema_file"], types[etype][0]))
    return problems


def both_directions(rows, types):
    problems = ["%s (%s) has no catalog row" % (t, types[t][0]) for t in sorted(types)
                if t not in rows]
    problems += ["catalog row %s (line %d) has no schema in any events/*.yaml"
                 % (t, rows[t]["line"]) for t in sorted(rows) if t not in types]
    return problems


# ---- main -----------------------------------------------------------------------------------

def check_files(report, events_dir, types):
    for path in [os.path.join(events_dir, ENVELOPE_FILE)] + schema_files(events_dir):
        name = os.path.basename(path)
        try:
            doc = load_yaml(path)
        except (OSError, yaml.YAMLError) as e:
            report.check("%s: parses as YAML (no duplicate keys)" % name, [str(e).strip()])
            continue
        report.check("%s: parses as YAML (no duplicate keys)" % name, [])
        report.check("%s: valid JSON Schema draft 2020-12" % name,
                     lambda doc=doc, name=name: header_problems(doc, name))
        if name == ENVELOPE_FILE:
            report.check("%s: closed envelope, examples valid" % name,
                         lambda doc=doc: envelope_problems(doc, types))
            continue
        defs = doc.get("$defs") if isinstance(doc, dict) else None
        for etype, schema in (defs or {}).items():
            where = "%s#/$defs/%s" % (name, etype)
            report.check("%s: closed payload, conventions, examples valid" % where,
                         lambda s=schema, w=where: shape_problems(s, w) + example_problems(s, w))


def main(argv):
    ap = argparse.ArgumentParser(description="FlatRender event contract checks")
    ap.add_argument("--contracts", default=os.path.join(ROOT, "contracts"),
                    help="contracts directory (default: the repository's)")
    ap.add_argument("bindir", nargs="?", default=None,
                    help="daemon binary directory (passed to every contract check; unused here)")
    args = ap.parse_args(argv)
    events_dir = os.path.join(os.path.abspath(args.contracts), "events")
    report = oaslib.Report()
    envelope, types, load_problems = load_schemas(events_dir)
    report.check("events/*.yaml: every file loads, no event type defined twice (%d types)"
                 % len(types), load_problems)
    check_files(report, events_dir, types)
    rows, cat_problems = parse_catalog(os.path.join(events_dir, "README.md"))
    report.check("README.md: catalog table parses (%d rows)" % len(rows), cat_problems)
    report.check("event types are <domain>.<entity>.<event>.v<N>",
                 type_name_problems(types, "schema key") + type_name_problems(rows, "catalog row"))
    report.check("catalog rows: producer, status (emitted|planned), schema file",
                 catalog_row_problems(rows, types))
    report.check("every schema has a catalog row and every catalog row a schema",
                 both_directions(rows, types))
    print("%d passed, %d failed" % (report.passed, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
