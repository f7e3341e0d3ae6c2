#!/usr/bin/python3
"""check_openmetrics.py FORMAT < exposition — parses an exposition with the
official Python client's strict parser (FORMAT "openmetrics" or
"prometheus") and prints how many families and samples it read; a parse
error exits 1 with the parser's message. Used by tests/metrics when
python3-prometheus-client is installed."""
import sys

fmt = sys.argv[1]
text = sys.stdin.read()
try:
    if fmt == "openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    families = list(text_string_to_metric_families(text))
except Exception as e:  # the parser raises ValueError and friends
    print("parse error: %s" % e)
    sys.exit(1)
samples = sum(len(f.samples) for f in families)
print("%d families, %d samples" % (len(families), samples))
