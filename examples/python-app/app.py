#!/usr/bin/env python3
"""A plain Python app (standard library only) that keeps itself up to date with Updraft.

At start it tells Updraft this version runs (`updraft confirm`), asks for an update
(`updraft update --json`), reads the one JSON document the CLI prints, and when a new version was
installed, restarts into it with os.execv -- python-autoupdate's check / download / apply /
restart, in the app's own language, with signatures checked by Updraft.

Environment:
  APP_INSTALL_DIR  the install folder (default: the folder above this file's version folder)
  UPDRAFT_CMD      how to run the CLI (default "updraft"; e.g. "node /opt/updraft/dist/src/cli/main.js")
"""
import json
import os
import shlex
import subprocess
import sys

VERSION = "1.0.0"

HERE = os.path.dirname(os.path.abspath(__file__))
# Installed as INSTALL_DIR/app-<version>/app.py and started through INSTALL_DIR/current/app.py.
INSTALL_DIR = os.environ.get("APP_INSTALL_DIR") or os.path.dirname(HERE)
UPDRAFT = shlex.split(os.environ.get("UPDRAFT_CMD", "updraft"))


def updraft(*args):
    """Runs `updraft ARGS --json`; returns (exit status, the JSON document it printed)."""
    run = subprocess.run([*UPDRAFT, *args, "--json"], capture_output=True, text=True, timeout=600)
    try:
        doc = json.loads(run.stdout)
    except ValueError:
        doc = {"ok": False, "error": {"code": "NO_JSON", "message": run.stderr.strip()}}
    return run.returncode, doc


def update_and_maybe_restart():
    """Updates the app; when a new version was installed, replaces this process with it."""
    code, result = updraft("update", "--dir", INSTALL_DIR)
    if code != 0:
        error = result.get("error", {})
        print(f"update failed ({error.get('code')}): {error.get('message')}", file=sys.stderr, flush=True)
        return
    if result.get("updated"):
        print(f"updated {VERSION} -> {result['version']}, restarting", flush=True)
        new_app = os.path.join(INSTALL_DIR, "current", "app.py")
        os.execv(sys.executable, [sys.executable, new_app, *sys.argv[1:]])


def main():
    print(f"app {VERSION} running", flush=True)
    updraft("confirm", "--dir", INSTALL_DIR)  # this version starts: end its probation
    update_and_maybe_restart()
    print("App is up-to-date and running!", flush=True)


if __name__ == "__main__":
    main()
