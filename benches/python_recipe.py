"""The documented Python REST recipe for bulk sharing changes, as the public docs write it.

It lists every file by following `children.next` from /v2/folders/all?page_size=500 with
HTTP Basic auth and `Plotly-Client-Platform: python`, then sends one sequential
`requests.patch(API + '/v2/files/' + fid, {...})` per file to change, with a form-encoded body,
exactly as the docs' loop does (plain `requests.get`/`requests.patch`, no session). The docs'
loop asks for `filetype=plot` only; this one lists every type, so it can make the same changes
as plotward.

Usage: python_recipe.py CHANGES.json (a list of {"fid", "world_readable", "share_key_enabled"})
with API, USER_NAME and API_KEY in the environment. Prints its timings as JSON.
"""

import json
import os
import sys
import time

import requests

API = os.environ["API"]
USER = os.environ["USER_NAME"]
auth = requests.auth.HTTPBasicAuth(USER, os.environ["API_KEY"])
headers = {"Plotly-Client-Platform": "python"}
changes = json.load(open(sys.argv[1]))

start = time.perf_counter()
files = []
pages = 0
url = API + "/v2/folders/all?user=" + USER + "&page_size=500"
while url:
    page = requests.get(url, auth=auth, headers=headers).json()
    files.extend(page["children"]["results"])
    pages += 1
    url = page["children"]["next"]
listed = time.perf_counter()

for change in changes:
    response = requests.patch(
        API + "/v2/files/" + change["fid"],
        {"world_readable": change["world_readable"], "share_key_enabled": change["share_key_enabled"]},
        auth=auth,
        headers=headers,
    )
    response.raise_for_status()
done = time.perf_counter()

print(json.dumps({
    "list_seconds": listed - start,
    "apply_seconds": done - listed,
    "pages": pages,
    "listed": len(files),
    "writes": len(changes),
}))
