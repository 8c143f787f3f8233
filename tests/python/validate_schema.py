"""Validate policy files against `plotward schema` with the reference `jsonschema` package.

Usage: validate_schema.py SCHEMA.json POLICY.yaml...; prints {"file": ["error", ...]} as JSON.
"""

import json
import sys

import jsonschema
import yaml

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
result = {}
for path in sys.argv[2:]:
    document = yaml.safe_load(open(path))
    result[path] = sorted(error.message for error in validator.iter_errors(document))
print(json.dumps(result))
