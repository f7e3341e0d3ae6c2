#!/usr/bin/env python3
"""hostile_stream.py — a seeded generator of adversarial ticks, sent to a
running ARK pipeline through the ingest API (POST /v1/signals, single signals
and small batches) and the TCP line feed, for a bounded time.

Every tick is predicted before it is sent: accepted, or refused (and, for the
edges' bounds, with which field and reason). The API's answer to each request
is checked against the prediction on the spot (status, and for a refusal the
index and field it names); the feed's refusals are tallied for the caller to
compare with the feed's own counters. What it sends:

  sane       random walks on a few symbols, times jittered up to 2 s back
  flood      one symbol at many times the others' rate
  stale      times 30 s back (within the edges' age bound: HRM finds them stale)
  near       times 3 s ahead (within the skew); far: 8 s ahead up to 2^63-1 (refused)
  old        times 2 h back, 1970 (refused)
  no_ts      the receiver stamps it
  prices     1e308, 1e7 + 1, 0, negative (refused); 1e7, 1e-308, denormals
             (accepted, only on symbols that never get enough ticks to trade)
  NaN, Infinity, "nan" strings (refused as not JSON numbers)
  sizes      1e12, -1 (refused); 1e9, 0 (accepted)
  symbols    restricted ones as they are (accepted: HRM and Joey know them),
             lower case, fullwidth Unicode, a zero-width space (refused)
  outliers   x1.5 and x0.6 prints on the walks (Joey's rule ignores them)

Prints one JSON object: what was sent, accepted and refused, per transport
and reason. Exit 1 when an API answer differed from its prediction.
"""
import argparse
import json
import random
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request

MAX_PRICE = 1e7
MAX_SIZE = 1e9
SKEW_NS = 5 * 10**9
AGE_NS = 3600 * 10**9


def now_ns():
    return time.time_ns()


class Tick:
    def __init__(self, symbol, price, size, ts, refused=None, field=None, raw_price=None):
        self.symbol, self.price, self.size, self.ts = symbol, price, size, ts
        self.refused, self.field, self.raw_price = refused, field, raw_price

    def json(self):
        price = self.raw_price if self.raw_price is not None else repr(float(self.price))
        parts = ['"symbol":' + json.dumps(self.symbol, ensure_ascii=False), '"price":' + price,
                 '"size":' + repr(float(self.size))]
        if self.ts is not None:
            parts.append('"ts":%d' % self.ts)
        return "{" + ",".join(parts) + "}"


def bounds(price, size, ts):
    """The edges' verdict (event/tick.c) on a tick that parses."""
    if not (0 < price <= MAX_PRICE):
        return "price_out_of_bounds", "price"
    if not (0 <= size <= MAX_SIZE):
        return "size_out_of_bounds", "size"
    if ts:
        n = now_ns()
        if ts > n + SKEW_NS:
            return "ts_in_future", "ts"
        if ts < n - AGE_NS:
            return "ts_too_old", "ts"
    return None, None


class Generator:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.walk = {"WALK%d" % i: 50.0 + 25 * i for i in range(1, 5)}
        self.walk["FLOOD"] = 75.0
        self.odd = 0

    def step(self, sym):
        p = self.walk[sym] * (1 + self.r.gauss(0, 0.002))
        self.walk[sym] = min(max(p, 20.0), 400.0)
        return self.walk[sym]

    def odd_symbol(self):
        self.odd += 1
        return "ODD%d" % self.odd   # a few ticks each: Joey never warms up on them

    def next(self):
        r = self.r
        case = r.choices(
            ["sane", "flood", "stale", "near", "far", "old", "no_ts", "bad_price", "edge_price", "nan",
             "bad_size", "edge_size", "restricted", "bad_symbol", "outlier"],
            [30, 30, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3])[0]
        n = now_ns()
        walk = r.choice(["WALK1", "WALK2", "WALK3", "WALK4"])
        if case == "sane":
            return Tick(walk, self.step(walk), r.choice([100, 200, 500]), n - r.randrange(0, 2 * 10**9))
        if case == "flood":
            return Tick("FLOOD", self.step("FLOOD"), 100, n - r.randrange(0, 10**8))
        if case == "stale":
            return Tick(walk, self.step(walk), 100, n - 30 * 10**9)
        if case == "near":
            return Tick(walk, self.step(walk), 100, n + 3 * 10**9)
        if case == "far":
            return Tick(walk, self.step(walk), 100, r.choice([n + 8 * 10**9, n + 86400 * 10**9, 2**63 - 1]))
        if case == "old":
            return Tick(walk, self.step(walk), 100, r.choice([n - 2 * 3600 * 10**9, 1, 10**18]))
        if case == "no_ts":
            return Tick(walk, self.step(walk), 100, None)
        if case == "bad_price":
            return Tick(self.odd_symbol(), r.choice([1e308, MAX_PRICE * 1.0000001, 0.0, -5.0, -1e-300]), 1, n)
        if case == "edge_price":
            return Tick(self.odd_symbol(), r.choice([MAX_PRICE, 1e-308, 5e-324, 1e-9]), 1, n)
        if case == "nan":
            return Tick(self.odd_symbol(), 0, 1, n, refused="not_a_number", field="price",
                        raw_price=r.choice(["NaN", "Infinity", "-Infinity", '"nan"', '"inf"']))
        if case == "bad_size":
            return Tick(walk, self.step(walk), r.choice([1e12, -1.0, 1e9 + 1]), n)
        if case == "edge_size":
            return Tick(walk, self.step(walk), r.choice([1e9, 0.0]), n)
        if case == "restricted":
            return Tick(r.choice(["ZVZZT", "ZWZZT", "TEST9", "ABC.OTC"]), 10.0 + r.random(), 100, n)
        if case == "bad_symbol":
            return Tick(r.choice(["zvzzt", "\uff3a\uff36\uff3a\uff3a\uff34", "ZVZZT\u200b", "Z VZZT", ""]), 10.0, 1, n,
                        refused="bad_symbol", field="symbol")
        # outlier: a print far from the walk, within the bounds
        return Tick(walk, self.walk[walk] * r.choice([1.5, 0.6]), 100, n)


def parse_fault(t):
    """What the strict line parser (feed/parse.c) refuses, before any bound."""
    if t.refused:
        return t.refused, t.field
    if not t.price > 0:
        return "bad_price", "price"
    if t.size < 0:
        return "bad_size", "size"
    return None, None


def predict(t):
    reason, field = parse_fault(t)
    return (reason, field) if reason else bounds(t.price, t.size, t.ts)


class Api:
    def __init__(self, url, token, cacert):
        self.url = url.rstrip("/") + "/v1/signals"
        self.token = token
        self.ctx = ssl.create_default_context(cafile=cacert) if cacert else None

    def post(self, body):
        req = urllib.request.Request(self.url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer " + self.token})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                return resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api")
    ap.add_argument("--token")
    ap.add_argument("--cacert")
    ap.add_argument("--feed", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rate", type=float, default=300, help="ticks per second, both transports together")
    a = ap.parse_args()
    gen = Generator(a.seed)
    api = Api(a.api, a.token, a.cacert) if a.api else None
    feed = socket.create_connection(("127.0.0.1", a.feed)) if a.feed else None
    out = {"seed": a.seed, "api": {"requests": 0, "accepted": 0, "refused": 0, "by_reason": {}, "mismatches": []},
           "feed": {"lines": 0, "accepted": 0, "refused": 0, "by_reason": {}}}
    deadline = time.time() + a.seconds
    sent = 0
    while time.time() < deadline:
        use_api = api and (not feed or gen.r.random() < 0.5)
        if use_api:
            batch = [gen.next() for _ in range(gen.r.choice([1, 1, 1, 2, 3, 5]))]
            body = batch[0].json() if len(batch) == 1 and gen.r.random() < 0.5 else \
                "[" + ",".join(t.json() for t in batch) + "]"
            in_array = body.startswith("[")
            # The API parses the whole batch first (the parser's refusals,
            # by index), then holds every signal to the bounds.
            parsed = [parse_fault(t) for t in batch]
            verdicts = parsed if any(v[0] for v in parsed) else [bounds(t.price, t.size, t.ts) for t in batch]
            status, text = api.post(body)
            out["api"]["requests"] += 1
            first_bad = next((i for i, v in enumerate(verdicts) if v[0]), None)
            if first_bad is None:
                ok = status == 202
                out["api"]["accepted"] += len(batch) if ok else 0
            else:
                reason, field = verdicts[first_bad]
                if reason in ("price_out_of_bounds", "size_out_of_bounds", "ts_in_future", "ts_too_old"):
                    named = "signal %d: %s: %s" % (first_bad, field, reason)
                else:
                    named = ("signal %d: " % first_bad if in_array else "") + ("" if reason == "not_a_number" else reason)
                ok = status == 400 and named in text
                if ok:
                    out["api"]["refused"] += len(batch)
                    out["api"]["by_reason"][reason] = out["api"]["by_reason"].get(reason, 0) + 1
            if not ok:
                out["api"]["mismatches"].append({"body": body, "predicted": verdicts, "status": status,
                                                 "answer": text[:300]})
            sent += len(batch)
        else:
            t = gen.next()
            reason, _ = predict(t)
            feed.sendall((t.json() + "\n").encode())
            out["feed"]["lines"] += 1
            if reason:
                out["feed"]["refused"] += 1
                out["feed"]["by_reason"][reason] = out["feed"]["by_reason"].get(reason, 0) + 1
            else:
                out["feed"]["accepted"] += 1
            sent += 1
        target = time.time() + 1.0 / a.rate
        while time.time() < target:
            time.sleep(max(0, target - time.time()))
    if feed:
        # Half-close and wait (bounded) for the feed to have read it all.
        feed.shutdown(socket.SHUT_WR)
        feed.settimeout(15)
        try:
            feed.recv(1)
        except OSError:
            pass
        feed.close()
    json.dump(out, sys.stdout)
    print()
    return 1 if out["api"]["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
