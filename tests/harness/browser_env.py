# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cockpit's web service on loopback as one user, and headless Chromium driven through
chromedriver's WebDriver HTTP API (urllib only, no Python packages beyond the standard library).

cockpit-ws runs with --local-session: it starts cockpit-bridge as the same user, with no login,
and the bridge calls the system bus that DBUS_SYSTEM_BUS_ADDRESS names. Every process started
here is ended by its PID, with the processes it started (Chromium's, the bridge)."""

import base64
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"
COCKPIT_BRIDGE = "/usr/bin/cockpit-bridge"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PROGRAMS = (COCKPIT_WS, COCKPIT_BRIDGE, CHROMIUM, CHROMEDRIVER)

# WebDriver's key codes.
TAB, ENTER, SHIFT = "\ue004", "\ue007", "\ue008"


def missing_programs():
    return [p for p in PROGRAMS if not os.path.exists(p)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid):
    """The PIDs of pid's children, grandchildren and so on, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def stop(proc, timeout=10):
    """SIGTERM to proc, then to whatever it started and left behind, SIGKILL after timeout."""
    if proc is None:
        return
    left = descendants(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(os.path.exists(f"/proc/{p}") for p in left):
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_http(url, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({url})")


class CockpitWs:
    """cockpit-ws on 127.0.0.1 as user, serving the packages under data_dir/cockpit; home is
    that user's HOME and XDG directories (made here, and with whatever the test put there
    before, the user's; home/config is XDG_CONFIG_HOME). env: the environment to start from
    (the test's private bus in DBUS_SYSTEM_BUS_ADDRESS)."""

    def __init__(self, user, data_dir, home, env, path_dirs=()):
        account = pwd.getpwnam(user)
        os.makedirs(home, exist_ok=True)
        for d in ("runtime", "cache", "config"):
            os.makedirs(f"{home}/{d}", mode=0o700, exist_ok=True)
        for root, dirs, files in os.walk(home):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.lchown(n, account.pw_uid, account.pw_gid)
        os.chmod(f"{home}/runtime", 0o700)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ws_env = dict(env, HOME=home, USER=user, LOGNAME=user,
                      XDG_RUNTIME_DIR=f"{home}/runtime", XDG_CACHE_HOME=f"{home}/cache",
                      XDG_CONFIG_HOME=f"{home}/config", XDG_DATA_HOME=f"{home}/data",
                      XDG_DATA_DIRS=f"{data_dir}:/usr/share",
                      PATH=":".join(list(path_dirs) + [env.get("PATH", "/usr/bin:/bin")]))
        self.log_path = f"{home}/cockpit-ws.log"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
             COCKPIT_WS, "--no-tls", f"--local-session={COCKPIT_BRIDGE}",
             f"--port={self.port}", "--address=127.0.0.1"],
            env=ws_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=home)
        log.close()
        try:
            wait_http(f"{self.url}/cockpit/static/login.html", 15, "cockpit-ws")
        except BaseException:
            self.close()
            raise

    def page(self, package, page):
        return f"{self.url}/cockpit/@localhost/{package}/{page}"

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def close(self):
        stop(self.proc)
        self.proc = None


class WebDriverError(AssertionError):
    pass


class Browser:
    """Headless Chromium through chromedriver, whose browser prefers languages (Accept-Language
    and navigator.languages, e.g. "zh-TW,zh")."""

    def __init__(self, languages="en-US,en", size=(1280, 1700)):
        self.profile = tempfile.mkdtemp(prefix="tokend-chromium.")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = f"{self.profile}.chromedriver.log"
        log = open(self.log_path, "w")
        self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.session = None
        try:
            wait_http(f"{self.base}/status", 15, "chromedriver")
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    # DevTools over a pipe rather than a TCP port: in a container (a fresh
                    # Debian 12 booted with systemd-nspawn, Chromium 150) chromedriver could not
                    # reach the browser's port ("unable to connect to renderer").
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--remote-debugging-pipe",
                             f"--user-data-dir={self.profile}",
                             f"--window-size={size[0]},{size[1]}",
                             f"--lang={languages.split(',')[0]}"],
                    "prefs": {"intl.accept_languages": languages},
                },
            }}}
            self.session = self._request("POST", "/session", caps)["sessionId"]
        except BaseException:
            self.close()
            raise

    def _request(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as f:
                return json.loads(f.read())["value"]
        except urllib.error.HTTPError as e:
            try:
                value = json.loads(e.read())["value"]
                raise WebDriverError(f"{method} {path}: {value.get('error')}: "
                                     f"{value.get('message', '')[:300]}") from None
            except (ValueError, KeyError):
                raise WebDriverError(f"{method} {path}: HTTP {e.code}") from None

    def _s(self, method, path, body=None):
        return self._request(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self._s("POST", "/url", {"url": url})

    def js(self, script, *args):
        """Runs script (a function body; arguments[i] are args) in the page; its return value."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        """Runs script in the page, which ends by calling done(value); that value."""
        body = "const done = arguments[arguments.length - 1];\n" + script
        return self._s("POST", "/execute/async", {"script": body, "args": list(args)})

    def wait(self, script, timeout=20, what=None, *args):
        """Waits until script returns something true; returns that."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                last = self.js(script, *args)
                if last:
                    return last
            except WebDriverError as e:
                last = e
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or script} (last: {last!r}); "
                             f"page text: {self.text('body')[:1500]!r}")

    def find(self, css):
        found = self._s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def text(self, css):
        try:
            return self.js("const e = document.querySelector(arguments[0]);"
                           "return e ? e.innerText : null;", css)
        except WebDriverError:
            return None

    def click(self, css):
        self._s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text):
        """Types text into the element, key by key, as a person would."""
        self._s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def keys(self, text):
        """Types text (WebDriver key codes included) into whatever has the focus."""
        actions = []
        for ch in text:
            actions += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        self._s("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard",
                                                  "actions": actions}]})

    def focused(self):
        """The id of the element with the focus, or its tag name."""
        return self.js("const e = document.activeElement; return e.id || e.tagName;")

    def screenshot(self, path):
        png = self._s("GET", "/screenshot")
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))

    def close(self):
        if self.session:
            try:
                self._request("DELETE", f"/session/{self.session}", timeout=20)
            except (WebDriverError, OSError):
                pass
            self.session = None
        stop(self.driver)
        self.driver = None
        shutil.rmtree(self.profile, ignore_errors=True)
        try:
            os.unlink(self.log_path)
        except FileNotFoundError:
            pass
