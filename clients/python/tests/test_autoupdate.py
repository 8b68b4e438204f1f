"""updraft_autoupdate end to end: real HTTP on 127.0.0.1, the real updraft CLI, real processes.

Run from clients/python with ``python3 -m unittest discover -s tests``. The CLI is ``UPDRAFT_CMD``
(the repository's test suite sets it to its built CLI), else ``updraft`` on the ``PATH``.
"""
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zipfile
from functools import partial

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(PACKAGE_ROOT, "examples")
sys.path.insert(0, PACKAGE_ROOT)

from updraft_autoupdate import Autoupdate, UpdraftError  # noqa: E402

APP_V1 = {"data.txt": "data 1.0.0\n", "lib/util.py": "VERSION = '1.0.0'\n"}
APP_V2 = {"data.txt": "data 1.0.1\n", "lib/util.py": "VERSION = '1.0.1'\n", "lib/new.py": "NEW = True\n"}


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def zip_of(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def write_tree(root, files):
    for name, content in files.items():
        path = os.path.join(root, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w" if isinstance(content, str) else "wb") as f:
            f.write(content)


def read_tree(root, names):
    out = {}
    for name in names:
        try:
            with open(os.path.join(root, *name.split("/"))) as f:
                out[name] = f.read()
        except FileNotFoundError:
            out[name] = "(missing)"
    return out


def wait_for(condition, seconds=60.0):
    """Polls ``condition`` until it holds; fails after ``seconds`` (a bound, not a sleep)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {seconds} s")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ServerCase(unittest.TestCase):
    """A temp folder ``root`` served over HTTP on 127.0.0.1, and an app folder ``app``."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="updraft-py-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.root = os.path.join(self.work, "www")
        os.makedirs(self.root)
        handler = partial(QuietHandler, directory=self.root)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.app = os.path.join(self.work, "YourApp")

    def publish_seed(self, files, version="1.0.1", tamper=False, archive=None):
        """Writes ``updates/`` as the seed describes it: the zip and update.json naming its sha256
        (``tamper``: the zip is changed after its hash was published; ``archive``: these bytes)."""
        folder = os.path.join(self.root, "updates")
        os.makedirs(folder, exist_ok=True)
        name = f"your_app_v{version}.zip"
        archive = archive if archive is not None else zip_of(files)
        digest = sha256_of(archive)
        if tamper:
            archive = zip_of({**files, "data.txt": "tampered\n"})
        with open(os.path.join(folder, name), "wb") as f:
            f.write(archive)
        doc = {"version": version, "files": [{"filename": name, "hash": digest, "url": f"{self.base}/updates/{name}"}]}
        with open(os.path.join(folder, "update.json"), "w") as f:
            json.dump(doc, f)

    def run_program(self, program, update_url):
        env = {**os.environ, "UPDRAFT_UPDATE_URL": update_url, "PYTHONPATH": PACKAGE_ROOT}
        return subprocess.run(
            [sys.executable, program], cwd=self.work, env=env, capture_output=True, text=True, timeout=120
        )


class SeedExamples(ServerCase):
    """The seed's two example programs, verbatim but for the import line, update their own folder."""

    def example_in_app(self, name, version):
        """The example installed in the app folder, as the app's version ``version`` of it."""
        with open(os.path.join(EXAMPLES, name)) as f:
            source = f.read()
        self.assertIn("from updraft_autoupdate import Autoupdate", source)
        return source.replace("current_version='1.0.0'", f"current_version='{version}'")

    def check_example(self, name, update_url):
        write_tree(self.app, {**APP_V1, name: self.example_in_app(name, "1.0.0")})
        new_files = {**APP_V2, name: self.example_in_app(name, "1.0.1")}
        self.publish_seed(new_files)
        program = os.path.join(self.app, name)

        first = self.run_program(program, update_url)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(first.stdout, "App is up-to-date and running!\n")
        self.assertEqual(read_tree(self.app, list(new_files)), new_files)

        # The program now in the folder is 1.0.1: nothing newer, nothing changes.
        second = self.run_program(program, update_url)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(second.stdout, "App is up-to-date and running!\n")
        self.assertEqual(read_tree(self.app, list(new_files)), new_files)

    def test_folder_url_example_updates_the_app(self):
        self.check_example("folder_url.py", f"{self.base}/updates/")

    def test_update_json_url_example_updates_the_app(self):
        self.check_example("update_json_url.py", f"{self.base}/updates/update.json")

    def test_tampered_package_is_refused_and_the_app_untouched(self):
        name = "folder_url.py"
        original = {**APP_V1, name: self.example_in_app(name, "1.0.0")}
        write_tree(self.app, original)
        self.publish_seed({**APP_V2, name: self.example_in_app(name, "1.0.1")}, tamper=True)
        run = self.run_program(os.path.join(self.app, name), f"{self.base}/updates/")
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("updraft_autoupdate.UpdraftError: [TARGET_MISMATCH]", run.stderr)
        self.assertEqual(read_tree(self.app, list(original) + ["lib/new.py"]), {**original, "lib/new.py": "(missing)"})


class ApiBehaviour(ServerCase):
    def updater(self, **overrides):
        options = {
            "app_name": "YourAppName",
            "current_version": "1.0.0",
            "update_url": f"{self.base}/updates/",
            "app_dir": self.app,
            **overrides,
        }
        return Autoupdate(**options)

    def test_tampered_package_raises_and_leaves_the_app(self):
        write_tree(self.app, APP_V1)
        self.publish_seed(APP_V2, tamper=True)
        updater = self.updater()
        self.assertTrue(updater.check_for_updates())
        with self.assertRaises(UpdraftError) as caught:
            updater.download_updates()
        self.assertEqual(caught.exception.code, "TARGET_MISMATCH")
        self.assertEqual(caught.exception.exit_status, 5)
        self.assertEqual(read_tree(self.app, list(APP_V1) + ["lib/new.py"]), {**APP_V1, "lib/new.py": "(missing)"})
        # Bytes that differ from their published hash may be the mirror's fault: tried again next time.
        later = self.updater()
        self.assertTrue(later.check_for_updates())
        self.assertIsNone(later.skipped)

    def test_broken_archive_is_refused_and_backed_off(self):
        write_tree(self.app, APP_V1)
        self.publish_seed(APP_V2, archive=b"this is not a zip archive")
        updater = self.updater()
        self.assertTrue(updater.check_for_updates())
        with self.assertRaises(UpdraftError) as caught:
            updater.apply_updates()
        self.assertEqual(caught.exception.code, "ARCHIVE_INVALID")
        self.assertEqual(read_tree(self.app, list(APP_V1)), APP_V1)
        # The release itself is broken: not retried for 2 hours, and the check says so.
        later = self.updater()
        self.assertFalse(later.check_for_updates())
        self.assertEqual(later.skipped["version"], "1.0.1")
        self.assertEqual(later.latest_version, "1.0.1")

    def test_errors_carry_the_cli_codes(self):
        write_tree(self.app, APP_V1)
        with self.assertRaises(UpdraftError) as missing:
            self.updater().check_for_updates()  # nothing published: 404
        self.assertEqual(missing.exception.code, "HTTP_STATUS")
        self.assertEqual(missing.exception.exit_status, 4)
        with self.assertRaises(UpdraftError) as bad_version:
            self.updater(current_version="one").check_for_updates()
        self.assertIn(bad_version.exception.code, ("VERSION_INVALID", "USAGE"))
        self.assertEqual(bad_version.exception.exit_status, 2)

    def test_a_missing_cli_is_an_error_with_a_code(self):
        write_tree(self.app, APP_V1)
        saved = os.environ.get("UPDRAFT_CMD")
        os.environ["UPDRAFT_CMD"] = os.path.join(self.work, "no-such-updraft")
        try:
            with self.assertRaises(UpdraftError) as caught:
                self.updater().check_for_updates()
        finally:
            if saved is None:
                del os.environ["UPDRAFT_CMD"]
            else:
                os.environ["UPDRAFT_CMD"] = saved
        self.assertEqual(caught.exception.code, "UNSUPPORTED_RUNTIME")

    def test_up_to_date_downloads_and_applies_nothing(self):
        write_tree(self.app, APP_V1)
        self.publish_seed(APP_V1, version="1.0.0")
        updater = self.updater()
        self.assertFalse(updater.check_for_updates())
        self.assertFalse(updater.download_updates())
        self.assertFalse(updater.apply_updates())
        self.assertEqual(updater.latest_version, "1.0.0")

    def test_download_leaves_the_files_until_apply(self):
        write_tree(self.app, APP_V1)
        self.publish_seed(APP_V2)
        updater = self.updater()
        self.assertTrue(updater.check_for_updates())
        self.assertFalse(updater.signed)
        self.assertTrue(updater.download_updates())
        self.assertEqual(read_tree(self.app, list(APP_V1)), APP_V1)
        self.assertTrue(updater.apply_updates())
        self.assertEqual(read_tree(self.app, list(APP_V2)), APP_V2)

    def test_restart_swaps_after_exit_and_starts_the_new_version(self):
        program = """import os, sys
from updraft_autoupdate import Autoupdate
VERSION = '%s'
updater = Autoupdate('YourAppName', VERSION, sys.argv[1])
if updater.check_for_updates() and updater.download_updates():
    updater.restart()
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'started.txt'), 'a') as f:
    f.write(VERSION + ' ' + str(os.getpid()) + '\\n')
"""
        write_tree(self.app, {**APP_V1, "app.py": program % "1.0.0"})
        new_files = {**APP_V2, "app.py": program % "1.0.1"}
        self.publish_seed(new_files)
        env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
        first = subprocess.run(
            [sys.executable, os.path.join(self.app, "app.py"), f"{self.base}/updates/"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        self.assertEqual(first.returncode, 0, first.stderr)
        # The 1.0.0 process exited without writing; the helper swapped the files and started 1.0.1,
        # whose check confirmed it (so the helper keeps it), and which wrote its line.
        started = os.path.join(self.app, "started.txt")
        wait_for(lambda: os.path.exists(started) and read_tree(self.app, ["started.txt"])["started.txt"].endswith("\n"))
        lines = read_tree(self.app, ["started.txt"])["started.txt"].split()
        self.assertEqual(lines[0], "1.0.1")
        self.assertEqual(read_tree(self.app, list(new_files)), new_files)
        updater = self.updater(current_version="1.0.1")
        wait_for(lambda: not self.on_probation())
        self.assertFalse(updater.check_for_updates())

    def on_probation(self):
        with open(os.path.join(self.app, ".updraft", "state.json")) as f:
            return "probation" in json.load(f)

    def test_signed_repository_url_is_verified_by_signatures(self):
        keys, repo = os.path.join(self.work, "keys"), self.root
        cli = [*_cli()]
        for args in (
            ["keys", "generate", "--out", keys],
            ["init", "--repo", repo, "--app", "yourappname", "--url", self.base, "--keys", keys],
        ):
            done = subprocess.run([*cli, *args], capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
        build = os.path.join(self.work, "build")
        write_tree(build, APP_V2)
        done = subprocess.run(
            [*cli, "publish", build, "--format", "update-json", "--repo", repo, "--app", "yourappname",
             "--version", "1.0.1", "--url", self.base, "--keys", keys],
            capture_output=True, text=True,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        write_tree(self.app, APP_V1)
        updater = self.updater(update_url=f"{self.base}/yourappname/")
        self.assertTrue(updater.check_for_updates())
        self.assertTrue(updater.signed)
        self.assertTrue(updater.download_updates())
        self.assertTrue(updater.apply_updates())
        self.assertEqual(read_tree(self.app, list(APP_V2)), APP_V2)


def _cli():
    import shlex

    configured = os.environ.get("UPDRAFT_CMD")
    return shlex.split(configured) if configured else ["updraft"]


if __name__ == "__main__":
    unittest.main()
