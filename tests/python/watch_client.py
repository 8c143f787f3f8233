"""Helpers for tests/integration/watch.rs: the official chart-studio 1.1.0 client making a
public plot, and Python's reference Prometheus text parser reading `plotward watch`'s
/metrics. Prints one JSON document on stdout.

Environment: STEP, and
  create  - SANDBOX_URL, PLOTLY_USERNAME, PLOTLY_API_KEY, PLOTLY_DIR, FILENAME: plots a
            public chart at FILENAME (its folders are made by the client) and prints its URL;
  metrics - METRICS_URL: fetches it and prints every family the parser found:
            {name: {"type": ..., "samples": [[sample name, labels, value], ...]}}.
"""

import json
import os
import warnings


def create():
    import chart_studio.plotly as py
    import chart_studio.tools as tls
    import plotly.graph_objs as go

    url = os.environ["SANDBOX_URL"]
    # The sandbox is plain http on loopback; chart_studio only warns about that.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tls.set_credentials_file(
            username=os.environ["PLOTLY_USERNAME"], api_key=os.environ["PLOTLY_API_KEY"]
        )
        tls.set_config_file(plotly_domain=url, plotly_api_domain=url)
    figure = go.Figure(data=[go.Scatter(x=[1, 2, 3], y=[3, 1, 2])])
    return {
        "url": py.plot(
            figure, filename=os.environ["FILENAME"], sharing="public", auto_open=False
        )
    }


def metrics():
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(os.environ["METRICS_URL"]) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode("utf-8")
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {
            "type": family.type,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
    return {"content_type": content_type, "families": families}


print(json.dumps({"create": create, "metrics": metrics}[os.environ["STEP"]]()))
