"""A loopback fake of the Gemini REST API that the real google-genai SDK talks to.

Point the SDK at it with GOOGLE_GEMINI_BASE_URL=fake.url. It speaks generateContent, the Batch
API (batchGenerateContent with inlined requests or an uploaded JSONL file, batches/{id}, the
batch list) and the Files API (resumable upload, download) as the real service does, checks the
API key, and scores each pair with a deterministic hidden rule (:func:`hidden_score`), so a test
can tell a correct label from a swapped one. Faults are scripted:

    fake.script.extend(["429:0.5", "503", "hang:5", "malformed", "out_of_range", "blocked",
                        "empty", "drop_first", "repeat_first"])   # consumed by consecutive requests
    fake.pair_faults["a__b"] = deque(["503"])                    # consumed by requests with that pair
    fake.call_faults["get"].extend(["503", "drop", "429:0.1", "hang:2"])   # batches.get, in turn
    # also "create" (batchGenerateContent; "accept_then_drop" creates the job, then hangs up),
    # "list", "upload" (the upload's first request) and "download"
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
import uuid
from collections import deque

from loopback import Loopback, QuietHandler

PATH_RE = re.compile(r"^/(?:v1|v1beta|v1alpha)/models/(?P<model>[^:/]+):(?P<method>\w+)$")
WORD_RE = re.compile(r"[a-z]{4,}")
STOP = {"this", "that", "with", "from", "which", "these", "have", "their", "such", "also", "show", "paper",
        "using", "based", "results", "there", "where", "into", "than", "both", "more", "while", "between"}


def read_prompt(text: str) -> list[dict]:
    """The pairs a prompt asks about, read as a model would: its JSON data lines (a pair with papers
    "a" and "b", or in the anchored layout the REFERENCE line and one line per candidate)."""
    data = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                data.append(json.loads(line))
    if data and "pair_id" not in data[0]:  # the anchored layout: each candidate against the reference
        ref = data[0]
        return [{"pid": d["pair_id"], "ta": ref["title"], "aa": ref["abstract"], "tb": d["title"], "ab": d["abstract"]}
                for d in data[1:] if "pair_id" in d]
    return [{"pid": d["pair_id"], "ta": d["a"]["title"], "aa": d["a"]["abstract"], "tb": d["b"]["title"],
             "ab": d["b"]["abstract"]} for d in data if "pair_id" in d and "a" in d]


def _words(text: str) -> set[str]:
    return {w for w in WORD_RE.findall(text.lower()) if w not in STOP}


def hidden_score(title_a: str, abstract_a: str, title_b: str, abstract_b: str) -> float:
    """The fake's labeller: a learnable function of the two texts (scaled word overlap)."""
    a, b = _words(title_a + " " + abstract_a), _words(title_b + " " + abstract_b)
    if not a or not b:
        return 0.0
    jaccard = len(a & b) / len(a | b)
    return round(min(1.0, 4.0 * jaccard), 4)


def expected_score(pair: dict, abstract_tokens: int = 300) -> float:
    """What the fake answers for a pairs.csv row, through the same trimming as the prompt."""
    from arxiv_reco.labels.prompts import trim

    return hidden_score(" ".join(pair["title_a"].split()), trim(pair["abstract_a"], abstract_tokens),
                        " ".join(pair["title_b"].split()), trim(pair["abstract_b"], abstract_tokens))


def serve(argv: list[str]) -> None:
    """`python fake_gemini.py KEY LATENCY RPM_CAP`: serve until killed; prints the URL."""
    key, latency, cap = argv[0], float(argv[1]), float(argv[2]) or None
    with FakeGemini(api_key=key, latency=latency, rpm_cap=cap) as fake:
        print(fake.url, flush=True)
        threading.Event().wait()


class FakeGemini(Loopback):
    def __init__(self, api_key: str = "test-key", models=("gemini-2.5-flash", "gemini-2.5-flash-lite"),
                 latency=0.0, rpm_cap: float | None = None, seed: int = 0, batch_polls_pending: int = 1):
        self.api_key = api_key
        self.models = set(models)
        self.latency = latency  # seconds, or a callable(rng) -> seconds
        self.rpm_cap = rpm_cap
        self.script: deque[str] = deque()
        self.pair_faults: dict[str, deque[str]] = {}
        self.log: list[dict] = []  # one entry per generateContent request
        self.rejected_429 = 0
        self.batches: dict[str, dict] = {}
        self.batch_polls_pending = batch_polls_pending
        self.call_faults: dict[str, deque[str]] = {k: deque() for k in ("get", "create", "list", "upload", "download")}
        self.calls: dict[str, int] = dict.fromkeys(self.call_faults, 0)
        self.files: dict[str, bytes] = {}  # files/{id} -> content (uploaded requests, results)
        self._uploads: dict[str, bytearray] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._bucket = max(1.0, (rpm_cap or 0) / 60.0)
        self._bucket_t = time.monotonic()
        port = self._listen(self._handler_class(), backlog=512)
        self.url = f"http://127.0.0.1:{port}"

    # ---- what the fake answers ---------------------------------------------------------------
    def requested_pairs(self) -> list[str]:
        return [pid for entry in self.log for pid in entry["pairs"]]

    def _rate_ok(self) -> float | None:
        """Token bucket of one second's worth of requests; None if allowed, else seconds to wait."""
        if not self.rpm_cap:
            return None
        rate = self.rpm_cap / 60.0
        capacity = max(1.0, rate)
        with self._lock:
            now = time.monotonic()
            self._bucket = min(capacity, self._bucket + (now - self._bucket_t) * rate)
            self._bucket_t = now
            if self._bucket >= 1.0:
                self._bucket -= 1.0
                return None
            return (1.0 - self._bucket) / rate

    def _fault_for(self, pairs: list[str]) -> str | None:
        with self._lock:
            for pid in pairs:
                q = self.pair_faults.get(pid)
                if q:
                    return q.popleft()
            return self.script.popleft() if self.script else None

    def answer(self, model: str, body: dict, record: bool = True) -> tuple[int, dict]:
        """(status, JSON body) for a generateContent request."""
        text = "".join(p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", []))
        if text.startswith("TL;DR request"):  # the digest's one-sentence summary of a paper
            return self._tldr(model, text, record)
        found = read_prompt(text)
        pids = [f["pid"] for f in found]
        fault = self._fault_for(pids)
        if record:
            with self._lock:
                self.log.append({"t": time.monotonic(), "model": model, "pairs": pids, "fault": fault})
        wait = self._rate_ok() if record else None
        if wait is not None:
            with self._lock:
                self.rejected_429 += 1
            return 429, _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
                               retry_delay=wait)
        delay = self.latency(self._rng) if callable(self.latency) else self.latency
        if fault and fault.startswith("hang:"):
            delay = float(fault.split(":")[1])
        if delay:
            time.sleep(delay)
        if fault:
            kind, _, arg = fault.partition(":")
            if kind == "429":
                return 429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", retry_delay=float(arg or 1))
            if kind.isdigit():
                return int(kind), _error(int(kind), "UNAVAILABLE" if kind == "503" else "INTERNAL", "The service is busy.")
            if kind == "blocked":
                return 200, {"candidates": [{"finishReason": "SAFETY", "index": 0,
                                             "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                                                                "probability": "HIGH", "blocked": True}]}],
                             "usageMetadata": {"promptTokenCount": len(text) // 4, "totalTokenCount": len(text) // 4}}
            if kind == "empty":
                return 200, {"candidates": [], "promptFeedback": {"blockReason": "OTHER"},
                             "usageMetadata": {"promptTokenCount": len(text) // 4}}
        items = [{"pair_id": f["pid"], "score": hidden_score(f["ta"], f["aa"], f["tb"], f["ab"])} for f in found]
        if fault == "out_of_range":
            items = [dict(i, score=1.7) for i in items]
        elif fault == "drop_first":
            items = items[1:]
        elif fault == "repeat_first":
            items = items + items[:1]
        answer = "{not json" if fault == "malformed" else json.dumps(items)
        return 200, {
            "candidates": [{"content": {"parts": [{"text": answer}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": len(text) // 4, "candidatesTokenCount": len(answer) // 4,
                              "totalTokenCount": (len(text) + len(answer)) // 4},
            "modelVersion": model,
        }

    def _tldr(self, model: str, text: str, record: bool) -> tuple[int, dict]:
        title = next((line[len("Title: "):] for line in text.splitlines() if line.startswith("Title: ")), "")
        fault = self.script.popleft() if self.script else None
        if record:
            with self._lock:
                self.log.append({"t": time.monotonic(), "model": model, "pairs": [], "tldr": title, "fault": fault})
        if fault and fault[:3].isdigit():
            return int(fault[:3]), _error(int(fault[:3]), "UNAVAILABLE", "The service is busy.")
        answer = json.dumps({"tldr": f"It studies {' '.join(title.split()[:6]).lower()}."})
        return 200, {"candidates": [{"content": {"parts": [{"text": answer}], "role": "model"}, "finishReason": "STOP",
                                     "index": 0}],
                     "usageMetadata": {"promptTokenCount": len(text) // 4, "candidatesTokenCount": len(answer) // 4,
                                       "totalTokenCount": (len(text) + len(answer)) // 4}, "modelVersion": model}

    def create_batch(self, model: str, body: dict) -> tuple[int, dict]:
        batch = body.get("batch", body)
        source = batch.get("inputConfig", {})
        name = f"batches/{uuid.uuid4().hex[:12]}"
        outputs = []
        if "fileName" in source:  # file mode: one {"key", "request"} per line, answered into a results file
            lines = [json.loads(x) for x in self.files[source["fileName"]].decode().splitlines() if x.strip()]
            reqs = [{"request": x["request"], "metadata": {"key": x["key"]}} for x in lines]
        else:
            reqs = source.get("requests", {}).get("requests", [])
        for r in reqs:
            status, resp = self.answer(model, r.get("request", {}), record=True)
            out = {"metadata": r.get("metadata")} if r.get("metadata") else {}
            out.update({"response": resp} if status == 200 else {"error": resp["error"]})
            outputs.append(out)
        results = None
        if "fileName" in source:
            results = f"files/out-{uuid.uuid4().hex[:8]}"
            self.files[results] = "".join(json.dumps({"key": o["metadata"]["key"], **{k: v for k, v in o.items()
                                                      if k != "metadata"}}) + "\n" for o in outputs).encode()
        self.batches[name] = {"model": model, "display": batch.get("displayName"), "outputs": outputs,
                              "results_file": results, "polls": 0, "created": time.time()}
        return 200, self._batch_json(name)

    def _batch_json(self, name: str) -> dict:
        b = self.batches[name]
        done = b["polls"] > self.batch_polls_pending
        meta = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
                "name": name, "displayName": b["display"], "model": f"models/{b['model']}",
                "state": "BATCH_STATE_SUCCEEDED" if done else "BATCH_STATE_PENDING",
                "createTime": "2026-11-26T00:00:00Z"}
        if done:
            meta["output"] = ({"responsesFile": b["results_file"]} if b["results_file"]
                              else {"inlinedResponses": {"inlinedResponses": b["outputs"]}})
        return {"name": name, "metadata": meta, "done": done}

    def call_fault(self, call: str) -> str | None:
        with self._lock:
            self.calls[call] += 1
            q = self.call_faults[call]
            return q.popleft() if q else None

    # ---- HTTP ----------------------------------------------------------------------------------
    def _handler_class(self):
        fake = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _authorized(self) -> bool:
                key = self.headers.get("x-goog-api-key") or ""
                if key != fake.api_key:
                    self._send(400, _error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
                    return False
                return True

            def _fault(self, call: str) -> bool:
                """Apply the next scripted fault of this call; True when it answered (or hung up)."""
                return self._apply(fake.call_fault(call))

            def _apply(self, fault: str | None) -> bool:
                if not fault:
                    return False
                kind, _, arg = fault.partition(":")
                if kind == "hang":
                    time.sleep(float(arg or 5))
                    return False
                if kind == "drop":  # the connection closes with no answer at all
                    self.close_connection = True
                    return True
                if kind == "429":
                    self._send(429, _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", retry_delay=float(arg or 1)))
                else:
                    self._send(int(kind), _error(int(kind), "UNAVAILABLE", "The service is busy."))
                return True

            def _send_raw(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = self.path.split("?")[0]
                if path.startswith("/upload/session/"):  # resumable upload chunks carry no key
                    return self._upload_chunk(path.rsplit("/", 1)[1], raw)
                if not self._authorized():
                    return
                if re.match(r"^/upload/(?:v1|v1beta)/files$", path):
                    if self._fault("upload"):
                        return
                    uid = uuid.uuid4().hex[:12]
                    fake._uploads[uid] = bytearray()
                    return self._send_raw(200, b"{}", {"X-Goog-Upload-URL": f"{fake.url}/upload/session/{uid}",
                                                       "X-Goog-Upload-Status": "active"})
                body = json.loads(raw or b"{}")
                m = PATH_RE.match(path)
                if not m:
                    return self._send(404, _error(404, "NOT_FOUND", f"unknown path {self.path}"))
                model = m["model"]
                if model not in fake.models:
                    return self._send(404, _error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, "
                                                  "or is not supported for generateContent."))
                if m["method"] == "generateContent":
                    return self._send(*fake.answer(model, body))
                if m["method"] == "batchGenerateContent":
                    fault = fake.call_fault("create")
                    if fault == "accept_then_drop":  # the job exists, but its answer is lost
                        fake.create_batch(model, body)
                        self.close_connection = True
                        return
                    if self._apply(fault):
                        return
                    return self._send(*fake.create_batch(model, body))
                return self._send(404, _error(404, "NOT_FOUND", f"unknown method {m['method']}"))

            def _upload_chunk(self, uid: str, raw: bytes) -> None:
                buf = fake._uploads.get(uid)
                if buf is None:
                    return self._send(404, _error(404, "NOT_FOUND", "unknown upload session"))
                offset = int(self.headers.get("X-Goog-Upload-Offset") or 0)
                buf[offset:] = raw
                if "finalize" not in (self.headers.get("X-Goog-Upload-Command") or ""):
                    return self._send_raw(200, b"{}", {"X-Goog-Upload-Status": "active"})
                name = f"files/{uid}"
                fake.files[name] = bytes(buf)
                body = {"file": {"name": name, "mimeType": "jsonl", "sizeBytes": str(len(buf)), "state": "ACTIVE"}}
                return self._send_raw(200, json.dumps(body).encode(), {"X-Goog-Upload-Status": "final",
                                                                       "Content-Type": "application/json"})

            def do_GET(self):
                if self.path == "/_stats":  # for benchmarks running the fake in another process
                    return self._send(200, {"requests": len(fake.log), "rejected_429": fake.rejected_429,
                                            "times": [e["t"] for e in fake.log]})
                if not self._authorized():
                    return
                path = self.path.split("?")[0]
                if re.match(r"^/(?:v1|v1beta)/batches$", path):
                    if self._fault("list"):
                        return
                    ops = [fake._batch_json(n) for n in sorted(fake.batches, key=lambda n: -fake.batches[n]["created"])]
                    return self._send(200, {"operations": ops})
                m = re.match(r"^/(?:v1|v1beta)/(files/[^/:]+):download$", path)
                if m:
                    if self._fault("download"):
                        return
                    if m[1] not in fake.files:
                        return self._send(404, _error(404, "NOT_FOUND", f"{m[1]} not found"))
                    return self._send_raw(200, fake.files[m[1]], {"Content-Type": "application/octet-stream"})
                m = re.match(r"^/(?:v1|v1beta)/(batches/[^/:]+)$", path)
                if not m or m[1] not in fake.batches:
                    return self._send(404, _error(404, "NOT_FOUND", f"{self.path} not found"))
                if self._fault("get"):
                    return
                fake.batches[m[1]]["polls"] += 1
                return self._send(200, fake._batch_json(m[1]))

        return Handler


def _error(code: int, status: str, message: str, retry_delay: float | None = None) -> dict:
    err = {"code": code, "message": message, "status": status}
    if retry_delay is not None:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay:.3f}s"}]
    return {"error": err}


if __name__ == "__main__":
    import sys

    serve(sys.argv[1:])
