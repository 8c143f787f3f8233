#!/usr/bin/env python3
"""Recording stand-ins for `gh`, `glab`, `curl` and `apk`, for the pipeline tests
(tests/integration/pipelines.rs).

Called as `forge_standin.py TOOL ARGS...` by one small wrapper per tool (`gh`, `glab`, `curl`,
and `apk`, which only records: the harness provides what the image's packages would). The forge's state
is a JSON file ($FORGE_STATE); every call is appended to $FORGE_LOG as one JSON line. Only
the subcommands and API routes the example pipelines use are implemented: anything else
exits 1 naming what it was asked, so a workflow that starts calling something new fails its
test instead of being skipped.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from urllib.parse import urlsplit, parse_qs

GITHUB_BOT = "github-actions[bot]"
GITLAB_BOT_ID = 4242


def fail(message):
    print(f"forge stand-in: {message}", file=sys.stderr)
    sys.exit(1)


def load():
    with open(os.environ["FORGE_STATE"], encoding="utf-8") as f:
        return json.load(f)


def save(state):
    path = os.environ["FORGE_STATE"]
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
    os.replace(path + ".tmp", path)


def record(tool, argv, extra=None):
    entry = {"tool": tool, "argv": argv}
    entry.update(extra or {})
    with open(os.environ["FORGE_LOG"], "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def parse_api_args(argv):
    """`api` flags as gh and glab take them: method, paginate, jq, fields, the path."""
    method, jq, paginate, fields, path = None, None, False, {}, None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--method", "-X"):
            method = argv[i + 1]
            i += 2
        elif arg in ("--jq", "-q"):
            jq = argv[i + 1]
            i += 2
        elif arg == "--paginate":
            paginate = True
            i += 1
        elif arg in ("-F", "--field", "-f", "--raw-field"):
            key, _, value = argv[i + 1].partition("=")
            if arg in ("-F", "--field") and value.startswith("@"):
                with open(value[1:], encoding="utf-8") as f:
                    value = f.read()
            fields[key] = value
            i += 2
        elif arg.startswith("-"):
            fail(f"api flag {arg} is not implemented")
        elif path is None:
            path = arg
            i += 1
        else:
            fail(f"a second path {arg}")
    if path is None:
        fail("api without a path")
    # Both tools default to POST when fields are given, like the real ones.
    method = (method or ("POST" if fields else "GET")).upper()
    return method, path, fields, jq, paginate


def emit(value, jq):
    """Prints a JSON answer; with --jq, through the real jq, strings raw (as gh does)."""
    text = value if isinstance(value, str) else json.dumps(value)
    if jq is None:
        sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))
        return
    done = subprocess.run(
        ["jq", "-r", jq], input=text, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        fail(f"jq {jq!r} failed: {done.stderr}")
    sys.stdout.write(done.stdout)


def next_id(state):
    state["next_id"] = state.get("next_id", 1000) + 1
    return state["next_id"]


def github_api(state, method, path, fields):
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    segs = parts.path.strip("/").split("/")
    if segs[:1] != ["repos"] or "/".join(segs[1:3]) != state["repository"]:
        fail(f"gh api {method} {path}: not this repository")
    rest = segs[3:]
    issues = state.setdefault("issues", {})
    match (method, rest):
        case ("GET", ["issues", number, "comments"]):
            return issues[number]["comments"]
        case ("POST", ["issues", number, "comments"]):
            comment = {"id": next_id(state), "user": {"login": GITHUB_BOT}, "body": fields["body"]}
            issues[number]["comments"].append(comment)
            return comment
        case ("PATCH", ["issues", "comments", cid]):
            for issue in issues.values():
                for comment in issue["comments"]:
                    if str(comment["id"]) == cid:
                        if comment["user"]["login"] != GITHUB_BOT:
                            fail(f"comment {cid} belongs to {comment['user']['login']}")
                        comment["body"] = fields["body"]
                        return comment
            fail(f"no comment {cid}")
        case ("GET", ["issues"]):
            state_wanted = query.get("state", ["open"])[0]
            return [
                issue_view(n, i)
                for n, i in sorted(issues.items(), key=lambda kv: int(kv[0]))
                if state_wanted == "all" or i["state"] == state_wanted
            ]
        case ("POST", ["issues"]):
            number = str(next_id(state))
            issues[number] = {
                "title": fields["title"],
                "body": fields["body"],
                "state": "open",
                "user": GITHUB_BOT,
                "pull_request": False,
                "comments": [],
            }
            return issue_view(number, issues[number])
        case ("PATCH", ["issues", number]):
            issue = issues[number]
            for key in ("body", "state", "title"):
                if key in fields:
                    issue[key] = fields[key]
            return issue_view(number, issue)
        case ("GET", ["commits", sha, "pulls"]):
            return [
                {"number": int(n)}
                for n, i in issues.items()
                if i["pull_request"] and i.get("merge_commit_sha") == sha
            ]
        case ("GET", ["pulls", number]):
            issue = issues[number]
            return {"number": int(number), "head": {"sha": issue["head_sha"]}}
    fail(f"gh api {method} {path} is not implemented")


def issue_view(number, issue):
    view = {
        "number": int(number),
        "title": issue["title"],
        "body": issue["body"],
        "state": issue["state"],
        "user": {"login": issue["user"]},
    }
    if issue["pull_request"]:
        view["pull_request"] = {"url": f"pulls/{number}"}
    return view


def gh_run(state, argv):
    if argv[:1] == ["list"]:
        flags = dict(zip(argv[1::2], argv[2::2]))
        allowed = {"--workflow", "--event", "--commit", "--status", "--limit", "--json", "--jq"}
        if set(flags) - allowed:
            fail(f"gh run list {argv[1:]}: flags not implemented")
        runs = [
            {"databaseId": r["id"]}
            for r in reversed(state.get("runs", []))
            if r["workflow"] == flags.get("--workflow", r["workflow"])
            and r["event"] == flags.get("--event", r["event"])
            and r["head_sha"] == flags.get("--commit", r["head_sha"])
            and r["conclusion"] == flags.get("--status", r["conclusion"])
        ][: int(flags.get("--limit", "20"))]
        return runs, flags.get("--jq")
    if argv[:1] == ["download"] and len(argv) == 6 and argv[2] == "--name" and argv[4] == "--dir":
        source = os.path.join(os.environ["FORGE_ARTIFACTS"], argv[1], argv[3])
        if not os.path.isdir(source):
            fail(f"no artifact {argv[3]} in run {argv[1]}")
        shutil.copytree(source, argv[5], dirs_exist_ok=True)
        return None, None
    fail(f"gh run {argv} is not implemented")


def gitlab_api(state, method, path, fields):
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    segs = parts.path.strip("/").split("/")
    if segs == ["user"] and method == "GET":
        return {"id": GITLAB_BOT_ID, "username": "project_7_bot"}
    if segs[:2] != ["projects", str(state["project_id"])]:
        fail(f"glab api {method} {path}: not this project")
    rest = segs[2:]
    mrs = state.setdefault("merge_requests", {})
    issues = state.setdefault("issues", {})
    match (method, rest):
        case ("GET", ["merge_requests", iid, "notes"]):
            return mrs[iid]["notes"]
        case ("POST", ["merge_requests", iid, "notes"]):
            note = {"id": next_id(state), "author": {"id": GITLAB_BOT_ID}, "body": fields["body"]}
            mrs[iid]["notes"].append(note)
            return note
        case ("PUT", ["merge_requests", iid, "notes", nid]):
            for note in mrs[iid]["notes"]:
                if str(note["id"]) == nid:
                    if note["author"]["id"] != GITLAB_BOT_ID:
                        fail(f"note {nid} belongs to {note['author']['id']}")
                    note["body"] = fields["body"]
                    return note
            fail(f"no note {nid}")
        case ("GET", ["repository", "commits", sha, "merge_requests"]):
            return [
                {"iid": int(iid), "sha": mr["head_sha"], "state": mr["state"]}
                for iid, mr in mrs.items()
                if mr.get("merge_commit_sha") == sha
            ]
        case ("GET", ["merge_requests", iid, "pipelines"]):
            return [
                {"id": p["id"], "sha": p["sha"], "status": p["status"]}
                for p in reversed(state.get("pipelines", []))
                if p["mr"] == iid
            ]
        case ("GET", ["pipelines", pid, "jobs"]):
            for p in state.get("pipelines", []):
                if str(p["id"]) == pid:
                    return p["jobs"]
            fail(f"no pipeline {pid}")
        case ("GET", ["jobs", job, "artifacts", *name]):
            file = os.path.join(os.environ["FORGE_ARTIFACTS"], job, *name)
            if not os.path.isfile(file):
                fail(f"404 no artifact {'/'.join(name)} in job {job}")
            with open(file, encoding="utf-8") as f:
                return f.read()
        case ("GET", ["issues"]):
            wanted = query.get("state", ["opened"])[0]
            return [gitlab_issue(n, i) for n, i in sorted(issues.items()) if i["state"] == wanted]
        case ("POST", ["issues"]):
            iid = str(len(issues) + 1)
            issues[iid] = {
                "title": fields["title"],
                "description": fields["description"],
                "state": "opened",
                "notes": [],
            }
            return gitlab_issue(iid, issues[iid])
        case ("PUT", ["issues", iid]):
            issue = issues[iid]
            if "description" in fields:
                issue["description"] = fields["description"]
            if fields.get("state_event") == "close":
                issue["state"] = "closed"
            return gitlab_issue(iid, issue)
        case ("POST", ["issues", iid, "notes"]):
            note = {"id": next_id(state), "author": {"id": GITLAB_BOT_ID}, "body": fields["body"]}
            issues[iid]["notes"].append(note)
            return note
    fail(f"glab api {method} {path} is not implemented")


def gitlab_issue(iid, issue):
    return {
        "iid": int(iid),
        "title": issue["title"],
        "description": issue["description"],
        "state": issue["state"],
        "author": {"id": GITLAB_BOT_ID},
    }


def curl(argv):
    """`curl --fail ... --output FILE URL`: release assets from $RELEASES_DIR, by URL."""
    output, url = None, None
    i = 0
    while i < len(argv):
        if argv[i] == "--output":
            output = argv[i + 1]
            i += 2
        elif argv[i] in ("--retry", "--proto"):
            i += 2
        elif argv[i].startswith("--"):
            i += 1
        else:
            url = argv[i]
            i += 1
    prefix = os.environ["RELEASES_URL"]
    if output is None or url is None or not url.startswith(prefix + "/"):
        fail(f"curl {argv}: only release downloads under {prefix} are served")
    source = os.path.join(os.environ["RELEASES_DIR"], url[len(prefix) + 1 :])
    if not os.path.isfile(source):
        print(f"curl: (22) The requested URL returned error: 404 ({url})", file=sys.stderr)
        sys.exit(22)
    shutil.copyfile(source, output)


def main():
    tool, argv = sys.argv[1], sys.argv[2:]
    record(tool, argv)
    if tool == "apk":
        if argv[:2] != ["add", "--no-cache"]:
            fail(f"apk {argv} is not implemented")
        return
    if tool == "curl":
        curl(argv)
        return
    state = load()
    if tool == "gh" and argv[:1] == ["run"]:
        value, jq = gh_run(state, argv[1:])
        if value is not None:
            emit(value, jq)
        return
    if tool in ("gh", "glab") and argv[:1] == ["api"]:
        method, path, fields, jq, _paginate = parse_api_args(argv[1:])
        if tool == "glab" and jq is not None:
            fail("glab api has no --jq")
        route = github_api if tool == "gh" else gitlab_api
        value = route(state, method, path, fields)
        save(state)
        emit(value, jq)
        return
    fail(f"{tool} {argv} is not implemented")


if __name__ == "__main__":
    main()
