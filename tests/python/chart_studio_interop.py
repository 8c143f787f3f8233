"""Drive the official chart-studio 1.1.0 client against a plotward sandbox.

Run by tests/integration/interop.rs, which starts the sandbox, points PLOTLY_DIR at a fresh
directory and reads the JSON this script prints. The script only exercises the client; the
Rust test checks the results against the sandbox.

Environment: SANDBOX_URL, PLOTLY_USERNAME, PLOTLY_API_KEY, PLOTLY_DIR, and STEP:
  create  - plots public, private and secret plots in nested folders, then private-by-default
            ones after set_config_file, and exercises files.update / lookup;
  observe - reads back the sharing of the plots as the client sees them;
  web     - plots a private chart in a new folder, makes the folder public and then private
            again with folders.update, and fetches the chart's web_url (and its .json form)
            anonymously with plain requests after each step.
"""

import json
import os
import warnings

import requests

import chart_studio.plotly as py
import chart_studio.tools as tls
from chart_studio.api import v2
import plotly.graph_objs as go

URL = os.environ["SANDBOX_URL"]


def configure():
    # The sandbox is plain http on loopback; chart_studio only warns about that.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tls.set_credentials_file(
            username=os.environ["PLOTLY_USERNAME"], api_key=os.environ["PLOTLY_API_KEY"]
        )
        tls.set_config_file(plotly_domain=URL, plotly_api_domain=URL)


def figure():
    return go.Figure(data=[go.Scatter(x=[1, 2, 3], y=[3, 1, 2])])


def create():
    out = {}
    for sharing in ("public", "private", "secret"):
        out[sharing] = py.plot(
            figure(), filename="interop/%s/deep/chart" % sharing, sharing=sharing, auto_open=False
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tls.set_config_file(world_readable=False, sharing="private")
    out["default"] = py.plot(figure(), filename="interop/after-config/chart", auto_open=False)
    # Plotting to an existing name takes the lookup-then-update path (and overwrites the grid).
    out["replot"] = py.plot(
        figure(), filename="interop/public/deep/chart", sharing="public", auto_open=False
    )
    found = v2.files.lookup("interop/private/deep/chart").json()
    out["lookup"] = {"fid": found["fid"], "world_readable": found["world_readable"]}
    updated = v2.files.update(found["fid"], {"filename": "renamed-chart"}).json()
    out["update"] = {"fid": updated["fid"], "filename": updated["filename"]}
    return out


def observe():
    out = {}
    for path in (
        "interop/public/deep/chart",
        "interop/private/deep/renamed-chart",
        "interop/secret/deep/chart",
        "interop/after-config/chart",
    ):
        info = v2.files.lookup(path).json()
        out[path] = {
            "fid": info["fid"],
            "world_readable": info["world_readable"],
            "share_key_enabled": info["share_key_enabled"],
            "share_key": info["share_key"],
        }
    return out


def web():
    url = py.plot(figure(), filename="interop-web/chart", sharing="private", auto_open=False)
    folder = v2.folders.lookup("interop-web").json()["fid"]

    def status():
        # Anonymous: no credentials, as a visitor following the link.
        return [requests.get(url, timeout=10).status_code,
                requests.get(url[:-1] + ".json", timeout=10).status_code]

    out = {"url": url, "folder": folder, "private_folder": status()}
    v2.folders.update(folder, {"world_readable": True})
    out["public_folder"] = status()
    v2.folders.update(folder, {"world_readable": False})
    out["private_again"] = status()
    return out


STEPS = {"create": create, "observe": observe, "web": web}
configure()
print(json.dumps(STEPS[os.environ["STEP"]]()))
