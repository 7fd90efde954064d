"""Parse a text format 0.0.4 exposition from standard input with the Python client library's
parser (prometheus_client) and print one JSON object per sample: name, labels and value as text.
The Rust tests use it as a parser independent of the code under test."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        print(json.dumps({
            "family": family.name,
            "type": family.type,
            "name": sample.name,
            "labels": sample.labels,
            "value": repr(sample.value),
        }))
