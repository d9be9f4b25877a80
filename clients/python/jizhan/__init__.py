"""Jizhan's training client: report metrics, hyper-parameters, notes and progress of a
training run to the platform (docs/TRAINING.md). Standard library only, Python 3.9+.

    import jizhan
    run = jizhan.init()                      # settings from the environment
    for step in range(1000):
        ...
        run.log({"train/loss": loss, "train/acc": acc}, step=step)
    run.finish()

Settings, by argument or environment variable:
    url      JIZHAN_URL       the platform, e.g. http://127.0.0.1:8080
    token    JIZHAN_TOKEN     an API token (jizhan token create)
    project  JIZHAN_PROJECT   the project the run belongs to
    name     JIZHAN_RUN       the run's name (default: a new run-N); an existing run of
                              yours with that name is continued
    offline  JIZHAN_OFFLINE   a file to write the records to instead of sending them;
                              `jizhan metrics upload FILE --project P` sends it later

Inside a Jizhan job nothing is needed: the job's metrics socket (JIZHAN_METRICS_SOCKET,
set by the platform) takes the records without network or token, into the job's run.

log() never waits for the network: records are queued and sent in batches by a
background thread (every 0.2 seconds, or at 5,000 queued), and at exit.
"""

import atexit
import collections
import json
import math
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["init", "Run", "JizhanError"]
__version__ = "0.1.0"

_MAX_QUEUE = 1_000_000  # records held while the platform cannot be reached
_BATCH = 5000


class JizhanError(Exception):
    """A run could not be started or a call was refused; the message says why."""


def _value(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


class _Http:
    def __init__(self, url, token, project):
        self.base = url.rstrip("/") + "/api/v1/projects/" + urllib.parse.quote(project)
        self.token = token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body, allow_nan=False).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            try:
                msg = json.loads(e.read())["error"]["message"]
            except Exception:  # noqa: BLE001 - any unreadable answer
                msg = e.reason
            return e.code, {"message": msg}


class Run:
    """A training run. Made by init(); every method is safe from any thread."""

    def __init__(self, sender, name, offline=None):
        self.name = name
        self._send = sender
        self._offline = offline
        self._queue = collections.deque()  # appends and pops are atomic: log() takes no lock
        self._held = []  # what the sender could not deliver yet (its thread only)
        self._wake = threading.Event()
        self._sending = False
        self._done = False
        self._step = -1
        self.dropped = 0  # records dropped because the queue was full
        self.errors = []  # what the platform refused, newest last
        self._thread = threading.Thread(target=self._loop, name="jizhan-run", daemon=True)
        self._thread.start()
        atexit.register(self.finish)

    # ---- what training code calls -------------------------------------------------------
    def log(self, values, step=None):
        """Log numbers at a step (default: the previous step + 1). Cheap: the values are
        checked and sent by the background thread (what it refuses is in run.errors)."""
        if step is None:
            step = self._step + 1
        self._step = step
        if self._done:
            raise JizhanError("run %s has finished: start a new one with jizhan.init()" % self.name)
        q = self._queue
        if len(q) >= _MAX_QUEUE:
            self.dropped += 1
            return
        q.append((step, time.time(), dict(values)))

    def config(self, values=None, **kw):
        """Record hyper-parameters (merged into those recorded before)."""
        values = dict(values or {}, **kw)
        self._put({"kind": "config", "values": _flatten(values)})

    def note(self, text):
        """A line of text about the run (shown beside its curves)."""
        self._put({"kind": "note", "text": str(text)})

    def progress(self, done, total):
        """How far the run is: `done` of `total` (steps, epochs...)."""
        self._put({"kind": "progress", "done": int(done), "total": int(total)})

    def flush(self, timeout=30):
        """Send what is queued now; True when it was all sent within `timeout` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self._queue and not self._sending and not self._held:
                return True
            self._wake.set()
            time.sleep(0.01)
        return False

    def finish(self):
        """Send everything and mark the run finished (also done at exit)."""
        if self._done:
            return
        self._put({"kind": "finish"})
        self._done = True
        self.flush()
        try:
            atexit.unregister(self.finish)
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass

    # ---- the sender ---------------------------------------------------------------------
    def _put(self, rec):
        if self._done:
            raise JizhanError("run %s has finished: start a new one with jizhan.init()" % self.name)
        if len(self._queue) >= _MAX_QUEUE:
            self.dropped += 1
            return
        self._queue.append(rec)
        if len(self._queue) >= _BATCH:
            self._wake.set()

    def _take(self, limit):
        """Up to `limit` queued entries as records (log entries checked and converted)."""
        q, out = self._queue, []
        while q and len(out) < limit:
            item = q.popleft()
            if type(item) is tuple:
                step, at, values = item
                try:
                    item = {"kind": "log", "step": int(step), "time": at,
                            "values": {str(k): _value(v) for k, v in values.items()}}
                except (TypeError, ValueError) as e:
                    self.errors.append("step %s: %s" % (step, e))
                    continue
            out.append(item)
        return out

    def _loop(self):
        backoff = 0.5
        while True:
            if len(self._queue) < _BATCH and not self._held:
                self._wake.wait(0.2)
            self._wake.clear()
            self._sending = True
            batch = self._held or self._take(_BATCH * 4)
            self._held = []
            if not batch:
                self._sending = False
                continue
            ok = self._send(batch)
            if ok is None:  # could not reach the platform: keep them, try again
                self._held = batch
                self._sending = False
                time.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            self._sending = False
            backoff = 0.5
            if ok is not True:
                self.errors.append(ok)
                print("jizhan: the platform refused records of run %s: %s" % (self.name, ok),
                      file=sys.stderr)


def _columns(batch):
    """The batch with runs of log records turned into one "points" record per tag (a third
    of the bytes, and what the platform reads fastest); other records keep their place."""
    out, cols = [], {}

    def close():
        for tag, (steps, values, times) in cols.items():
            out.append({"kind": "points", "tag": tag, "steps": steps, "values": values,
                        "times": times})
        cols.clear()

    for rec in batch:
        if rec["kind"] != "log":
            close()
            out.append(rec)
            continue
        for tag, v in rec["values"].items():
            c = cols.get(tag)
            if c is None:
                c = cols[tag] = ([], [], [])
            c[0].append(rec["step"])
            c[1].append(v)
            c[2].append(rec["time"])
    close()
    return out


def _flatten(values, prefix=""):
    out = {}
    for k, v in values.items():
        key = prefix + str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = _value(v) if isinstance(v, float) else v
        else:
            out[key] = str(v)
    return out


def init(project=None, name=None, url=None, token=None, config=None, offline=None):
    """Start (or continue) a run and return it."""
    offline = offline or os.environ.get("JIZHAN_OFFLINE")
    name = name or os.environ.get("JIZHAN_RUN")
    if offline:
        path = offline
        lock = threading.Lock()

        def write(batch):
            with lock, open(path, "a", encoding="utf-8") as f:
                for rec in _columns(batch):
                    f.write(json.dumps(rec, allow_nan=False) + "\n")
            return True

        run = Run(write, name or os.path.basename(path), offline=path)
    elif os.environ.get("JIZHAN_METRICS_SOCKET") and not url:
        path = os.environ["JIZHAN_METRICS_SOCKET"]
        conn = [None]

        def send(batch):
            data = "".join(json.dumps(rec, allow_nan=False) + "\n"
                           for rec in _columns(batch)).encode()
            try:
                if conn[0] is None:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(path)
                    conn[0] = s
                conn[0].sendall(data)
                return True
            except OSError:
                if conn[0] is not None:
                    conn[0].close()
                conn[0] = None
                return None

        run = Run(send, os.environ.get("JIZHAN_JOB_ID", "job"))
    else:
        url = url or os.environ.get("JIZHAN_URL")
        token = token or os.environ.get("JIZHAN_TOKEN")
        project = project or os.environ.get("JIZHAN_PROJECT")
        missing = [n for n, v in (("url (JIZHAN_URL)", url), ("token (JIZHAN_TOKEN)", token),
                                  ("project (JIZHAN_PROJECT)", project)) if not v]
        if missing:
            raise JizhanError("jizhan.init needs " + ", ".join(missing) +
                              " (or offline=FILE to write the records to a file)")
        http = _Http(url, token, project)
        try:
            code, body = http.call("POST", "/runs", {"name": name} if name else {})
            if code == 409 and name:
                code, body = http.call("GET", "/runs/" + urllib.parse.quote(name))
        except (urllib.error.URLError, OSError) as e:
            raise JizhanError("cannot reach %s: %s" % (url, e)) from e
        if code not in (200, 201):
            raise JizhanError("cannot start run %s in project %s: %s" %
                              (name or "(new)", project, body.get("message", code)))
        run_name = body["name"]
        path = "/runs/" + urllib.parse.quote(run_name) + "/records"

        def send(batch):
            try:
                code, answer = http.call("POST", path, {"records": _columns(batch)})
            except (urllib.error.URLError, OSError):
                return None
            if code >= 500 or code == 429:
                return None
            return True if code == 200 else answer.get("message", str(code))

        run = Run(send, run_name)
    if config:
        run.config(config)
    return run
