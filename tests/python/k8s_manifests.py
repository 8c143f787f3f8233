"""Reads the Kubernetes manifests named on the command line and prints every document as one
JSON list, so tests/integration/kubernetes.rs can check them with serde_json. PyYAML comes
with kubernetes-validate."""

import json
import sys

import yaml

documents = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as manifest:
        for document in yaml.safe_load_all(manifest):
            if document is not None:
                documents.append({"file": path, "document": document})
print(json.dumps(documents))
