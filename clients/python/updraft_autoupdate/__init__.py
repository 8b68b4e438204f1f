"""python-autoupdate's ``Autoupdate`` API, backed by Updraft.

Apps written for python-autoupdate change one line::

    from updraft_autoupdate import Autoupdate   # was: from python_autoupdate import Autoupdate

and keep calling ``check_for_updates()``, ``download_updates()`` and ``apply_updates()``. Each call
runs the ``updraft`` command with ``--json`` and reads the one JSON document it prints, so the app
gets Updraft's checks (the ``hash`` of ``update.json``, or signatures when ``update_url`` is the
``<repository>/<app>/`` folder of an Updraft repository), resumed downloads, the all-or-nothing swap
of the app's files and the failed-version back-off. Failures raise :class:`UpdraftError` carrying
the CLI's stable error code (the README's error table).

The command is ``updraft`` from the ``PATH``; ``UPDRAFT_CMD`` overrides it (a command line, e.g.
``node /opt/updraft/dist/src/cli/updraft.js``). ``UPDRAFT_UPDATE_URL``, when set, replaces the
``update_url`` the app passes: for apps whose URL is written in their code, to point them at a
mirror or a test server without editing them.

Standard library only; Python 3.9 or newer.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys

__all__ = ["Autoupdate", "UpdraftError"]
__version__ = "0.1.0"

# Exit status of `updraft check` when a newer version is available (README's exit-code table).
_UPDATE_AVAILABLE = 10


class UpdraftError(Exception):
    """An update step failed.

    ``code`` is the CLI's stable error code (``HTTP_STATUS``, ``TARGET_MISMATCH``, ``USAGE``, ...),
    ``hint`` what to do about it when Updraft knows, ``exit_status`` the CLI's exit status.
    ``UNSUPPORTED_RUNTIME`` means the ``updraft`` command itself could not be run.
    """

    def __init__(self, code, message, hint=None, exit_status=None):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.hint = hint
        self.exit_status = exit_status


def _updraft_command():
    """The CLI's command line: ``UPDRAFT_CMD`` if set, else ``updraft`` found on the ``PATH``."""
    configured = os.environ.get("UPDRAFT_CMD")
    if configured:
        return shlex.split(configured, posix=os.name != "nt")
    found = shutil.which("updraft")
    if found is None:
        raise UpdraftError(
            "UNSUPPORTED_RUNTIME",
            "The updraft command was not found",
            hint="Install it (npm install --global updraft-updater) or set UPDRAFT_CMD to its command line.",
        )
    return [found]


def _run(args, expect=(0,)):
    """Runs ``updraft ARGS --json``; returns (exit status, JSON document) or raises UpdraftError."""
    command = [*_updraft_command(), *args, "--json"]
    try:
        run = subprocess.run(command, capture_output=True, text=True, encoding="utf-8")
    except OSError as err:
        raise UpdraftError(
            "UNSUPPORTED_RUNTIME",
            f"Could not run {command[0]}: {err}",
            hint="Check UPDRAFT_CMD, or that updraft on the PATH can be executed.",
        ) from err
    try:
        doc = json.loads(run.stdout)
    except ValueError:
        raise UpdraftError(
            "INTERNAL",
            f"updraft printed no JSON document (exit status {run.returncode}): {run.stderr.strip()[-500:]}",
            exit_status=run.returncode,
        ) from None
    if not doc.get("ok") or run.returncode not in expect:
        error = doc.get("error") or {}
        raise UpdraftError(
            error.get("code", "INTERNAL"),
            error.get("message", f"updraft exited with status {run.returncode}"),
            hint=error.get("hint"),
            exit_status=run.returncode,
        )
    return run.returncode, doc


class Autoupdate:
    """Checks, downloads and applies updates of the folder an app runs from.

    ``app_name``: the app's name (for an Updraft repository, its folder ``<repository>/<app>/``).
    ``current_version``: the version running now (``1.0.0`` or ``10.0.2.0``); only a newer
    published one is an update. ``update_url``: the folder holding ``update.json`` or the file
    itself, or the ``<repository>/<app>/`` folder of an Updraft repository (then verified by
    signatures). ``app_dir``: the folder whose files an update replaces; default, the folder of
    the running script.

    After a check, ``latest_version`` is the newest published version, ``signed`` says whether
    it is verified by signatures, and ``skipped`` (a dict with ``version``, ``reason``,
    ``retryAfter``) is set when that version failed recently and is not retried yet.
    """

    def __init__(self, app_name, current_version, update_url, app_dir=None):
        self.app_name = app_name
        self.current_version = current_version
        self.update_url = os.environ.get("UPDRAFT_UPDATE_URL") or update_url
        self.app_dir = os.path.abspath(app_dir or os.path.dirname(os.path.abspath(sys.argv[0] or ".")))
        self.latest_version = None
        self.signed = False
        self.skipped = None
        self._available = False
        self._prepared = False

    def _source_args(self):
        return [
            "--dir", self.app_dir,
            "--update-json", self.update_url,
            "--app", self.app_name,
            "--current-version", self.current_version,
        ]

    def check_for_updates(self):
        """True when a newer version than ``current_version`` is published (and not backed off)."""
        status, doc = _run(["check", *self._source_args()], expect=(0, _UPDATE_AVAILABLE))
        self.latest_version = doc.get("latestVersion")
        self.signed = bool(doc.get("signed"))
        self.skipped = doc.get("skipped")
        self._available = status == _UPDATE_AVAILABLE
        return self._available

    def download_updates(self):
        """Downloads and verifies the update and stages it beside the app, whose files stay as
        they are. Returns False when there is nothing to download; raises UpdraftError on failure
        (a broken release is then not retried for 2 hours)."""
        _, doc = _run(["update", *self._source_args(), "--prepare-only"])
        self.latest_version = doc.get("latestVersion", self.latest_version)
        self.signed = bool(doc.get("signed"))
        self.skipped = doc.get("skipped")
        self._prepared = bool(doc.get("updated"))
        return self._prepared

    def apply_updates(self):
        """Replaces the app's files with the downloaded update, all or nothing. Returns True when
        files were replaced. Restart the app afterwards (see :meth:`restart`)."""
        if not self._prepared and not self.download_updates():
            return False
        _, doc = _run(["apply-prepared", "--dir", self.app_dir])
        self._prepared = False
        return bool(doc.get("applied"))

    def restart(self, command=None):
        """Ends this process and starts the app again once it has exited.

        Updraft's helper waits for this process to exit, swaps in an update that was downloaded
        but not applied yet, and starts ``command`` (default: this interpreter with this script
        and its arguments) from ``app_dir``. A version it swapped in must then confirm it works,
        by its next ``check_for_updates()`` or :meth:`confirm`, within 60 s, or the helper puts
        the old files back and starts them. Does not return.
        """
        argv = command or [sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
        line = subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)
        _run(["apply-prepared", "--dir", self.app_dir, "--restart", line, "--wait-pid", str(os.getpid())])
        sys.exit(0)

    def confirm(self):
        """Tells Updraft the running version works (ends its probation after a restart)."""
        _run(["confirm", "--dir", self.app_dir])
