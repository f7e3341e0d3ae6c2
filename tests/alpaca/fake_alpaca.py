#!/usr/bin/env python3
"""A fake Alpaca trading API for the tests, answering as the documentation
says: GET /v2/account, POST /v2/orders, GET /v2/orders:by_client_order_id.
Requests without the right APCA-API-KEY-ID / APCA-API-SECRET-KEY get 401.

Each new client_order_id gets the next behaviour of PLAN (comma-separated,
cycling; a last behaviour ending in '*' is kept for every later order
instead: "fill,overfill,fill*" lies once):
  fill      200, the order filled at its limit
  accept    200 "accepted"; lookups show it "new", then "partially_filled"
            (half), then "filled"
  reject403 403 insufficient buying power (nothing stored)
  reject422 422 "qty must be > 0"-style refusal (nothing stored)
  dup       the order exists already (as after a resend): 422
            "client_order_id must be unique"; lookups find it filled
  err500    stored and filled, but answered 500: only a lookup finds it
  lost500   500 and NOT stored: the lookup gets 404; a second POST fills
  drop      stored and filled, the connection closed unanswered
  slow      stored and filled, answered after SLOW_S seconds (past the
            client's timeout)
  rate429   (the first one only; later ones fill) 429 with X-RateLimit-Reset
            2 s ahead, nothing stored; a POST before that reset is logged
            as EARLY (one already under way when the 429 left may be)
  hold      stored and filled, answered after HOLD_S seconds (within the
            client's timeout: for kill tests)
Hostile answers (a broker, or anything between, that answers wrongly; each
is "filled" in a way the order forbids):
  overfill     filled_qty 1000 times the order's (9000 ordered: 9000000)
  huge         filled_qty "1e308"
  wrong_symbol the fill reported for another symbol
  wrong_side   the fill reported on the other side
  wrong_coid   the answer carries another order's client_order_id
  off_limit    filled at 1.5 x the limit for a buy (0.5 x for a sell)
  shrink       accepted; lookups: half filled, then a quarter (the
               cumulative fill goes down)
Every request is logged to LOG as "<monotonic> <method> <what> <coid> <status>
<behaviour>". GET /_orders (the test's own door, no keys) dumps every order
the fake holds, as JSON.
Usage: fake_alpaca.py PORTFILE LOG KEY SECRET PLAN [ACCOUNT_STATUS [BUYING_POWER]]"""
import json, os, socket, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

portfile, logfile, key, secret, plan = sys.argv[1:6]
account_status = sys.argv[6] if len(sys.argv) > 6 else "ACTIVE"
buying_power = sys.argv[7] if len(sys.argv) > 7 else "1000000000"
plan = plan.split(",")
SLOW_S = float(os.environ.get("FAKE_SLOW_S", "3"))
HOLD_S = float(os.environ.get("FAKE_HOLD_S", "0.8"))
lock = threading.Lock()
orders = {}        # client_order_id -> order dict
behaviour = {}     # client_order_id -> its behaviour
lookups = {}       # client_order_id -> lookups answered
posts = {}         # client_order_id -> POSTs received
rate_reset = [0.0]  # wall-clock time before which a POST is early

def log(method, what, coid, status):
    with lock, open(logfile, "a") as f:
        f.write("%.3f %s %s %s %s %s\n" % (time.monotonic(), method, what, coid or "-", status,
                                            behaviour.get(coid, "-")))

def order_object(o):
    o = o.get("told", o)
    return {"id": o["id"], "client_order_id": o["coid"], "created_at": "2026-11-27T15:04:05Z",
            "updated_at": "2026-11-27T15:04:05Z", "submitted_at": "2026-11-27T15:04:05Z",
            "filled_at": None, "expired_at": None, "canceled_at": None, "failed_at": None,
            "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "symbol": o["symbol"],
            "asset_class": "us_equity", "notional": None, "qty": o["qty"],
            "filled_qty": o["filled_qty"], "filled_avg_price": o["filled_avg_price"],
            "order_class": "", "order_type": "limit", "type": "limit", "side": o["side"],
            "time_in_force": o["tif"], "limit_price": o["limit_price"], "stop_price": None,
            "status": o["status"], "extended_hours": False, "legs": None}

HOSTILE = ("overfill", "huge", "wrong_symbol", "wrong_side", "wrong_coid", "off_limit")

def store(body, filled, hostile=None):
    o = {"id": str(uuid.uuid4()), "coid": body["client_order_id"], "symbol": body["symbol"],
         "qty": body["qty"], "side": body["side"], "tif": body["time_in_force"],
         "limit_price": body["limit_price"], "status": "accepted", "filled_qty": "0",
         "filled_avg_price": None}
    if filled:
        o["status"], o["filled_qty"], o["filled_avg_price"] = "filled", body["qty"], body["limit_price"]
    # What the fake tells Kenny, when it lies (its own record stays true:
    # GET /_orders shows what was really ordered).
    o["told"] = dict(o)
    t = o["told"]
    if hostile == "overfill":
        t["filled_qty"] = "%g" % (float(body["qty"]) * 1000)
    elif hostile == "huge":
        t["filled_qty"] = "1e308"
    elif hostile == "wrong_symbol":
        t["symbol"] = "MSFT" if body["symbol"] != "MSFT" else "AAPL"
    elif hostile == "wrong_side":
        t["side"] = "sell" if body["side"] == "buy" else "buy"
    elif hostile == "wrong_coid":
        c = body["client_order_id"]
        t["coid"] = c[:-4] + ("%04x" % ((int(c[-4:], 16) + 1) & 0xffff))
    elif hostile == "off_limit":
        t["filled_avg_price"] = "%.2f" % (float(body["limit_price"]) * (1.5 if body["side"] == "buy" else 0.5))
    o["hostile"] = hostile
    orders[o["coid"]] = o
    return o

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def reply(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
    def authorised(self, method, what):
        if self.headers.get("APCA-API-KEY-ID") == key and self.headers.get("APCA-API-SECRET-KEY") == secret:
            return True
        log(method, what, None, 401)
        self.reply(401, {"code": 40110000, "message": "request is not authorized"})
        return False
    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/_orders":
            with lock:
                dump = [dict({k: v for k, v in o.items() if k != "told"}, behaviour=behaviour.get(c))
                        for c, o in orders.items()]
            return self.reply(200, dump)
        if u.path == "/v2/account":
            if not self.authorised("GET", "account"):
                return
            log("GET", "account", None, 200)
            return self.reply(200, {"id": "e6fe16f3-64a4-4921-8928-cadf02f92f98", "account_number": "PA3SJ0FJZHK8",
                                    "status": account_status, "currency": "USD", "buying_power": buying_power,
                                    "cash": buying_power, "portfolio_value": buying_power,
                                    "pattern_day_trader": False, "trading_blocked": False,
                                    "transfers_blocked": False, "account_blocked": False,
                                    "trade_suspended_by_user": False, "multiplier": "1"})
        if u.path == "/v2/orders:by_client_order_id":
            coid = parse_qs(u.query).get("client_order_id", [""])[0]
            if not self.authorised("GET", "lookup"):
                return
            with lock:
                o = orders.get(coid)
                if o and behaviour.get(coid) == "shrink":
                    n = lookups[coid] = lookups.get(coid, 0) + 1
                    frac = 0.5 if n == 1 else 0.25
                    for d in (o, o["told"]):
                        d["status"], d["filled_qty"], d["filled_avg_price"] = "partially_filled", "%g" % (float(o["qty"]) * frac), o["limit_price"]
                elif o and behaviour.get(coid) == "accept":
                    n = lookups[coid] = lookups.get(coid, 0) + 1
                    if n == 1:
                        o["status"] = "new"
                    elif n == 2:
                        half = float(o["qty"]) / 2
                        o["status"], o["filled_qty"], o["filled_avg_price"] = "partially_filled", "%g" % half, o["limit_price"]
                    else:
                        o["status"], o["filled_qty"], o["filled_avg_price"] = "filled", o["qty"], o["limit_price"]
                    o["told"] = dict(o)
                obj = order_object(o) if o else None
            log("GET", "lookup", coid, 200 if obj else 404)
            if obj:
                return self.reply(200, obj)
            return self.reply(404, {"code": 40410000, "message": "order not found for %s" % coid})
        log("GET", u.path, None, 404)
        self.reply(404, {"code": 40410000, "message": "not found"})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if urlparse(self.path).path != "/v2/orders":
            log("POST", self.path, None, 404)
            return self.reply(404, {"code": 40410000, "message": "not found"})
        if not self.authorised("POST", "order"):
            return
        try:
            body = json.loads(raw)
            coid = body["client_order_id"]
            assert body["type"] == "limit" and float(body["qty"]) > 0 and float(body["limit_price"]) > 0
        except Exception as e:
            log("POST", "order", None, 400)
            return self.reply(422, {"code": 40010001, "message": "bad order: %s" % e})
        with lock:
            early = time.time() < rate_reset[0]
            k = len(behaviour) if coid not in behaviour else 0
            if plan[-1].endswith("*") and k >= len(plan) - 1:
                b = behaviour.setdefault(coid, plan[-1][:-1])
            else:
                b = behaviour.setdefault(coid, plan[k % len(plan)].rstrip("*"))
            posts[coid] = posts.get(coid, 0) + 1
            if coid in orders:
                action = "unique"
            elif b == "dup":
                store(body, True)
                action = "unique"
            elif b == "lost500" and posts[coid] == 1:
                action = "500"
            elif b == "rate429" and posts[coid] == 1 and not rate_reset[0]:
                rate_reset[0] = time.time() + 2
                action = "429"
            elif b in ("reject403", "reject422"):
                action = b[-3:]
            elif b in HOSTILE:
                store(body, True, b)
                action = "ok"
            elif b == "shrink":
                store(body, False, b)
                action = "ok"
            else:
                store(body, b != "accept")
                action = {"err500": "500", "drop": "drop", "slow": "slow", "hold": "hold"}.get(b, "ok")
        if early:
            log("POST", "order", coid, "EARLY")
        if action == "unique":
            log("POST", "order", coid, 422)
            return self.reply(422, {"code": 40010001, "message": "client_order_id must be unique"})
        if action == "403":
            log("POST", "order", coid, 403)
            return self.reply(403, {"code": 40310000, "message": "insufficient buying power",
                                    "buying_power": "0", "cost_basis": "1000"})
        if action == "422":
            log("POST", "order", coid, 422)
            return self.reply(422, {"code": 40010001, "message": "limit_price must be within the allowed range"})
        if action == "500":
            log("POST", "order", coid, 500)
            return self.reply(500, {"code": 50010000, "message": "internal server error"})
        if action == "429":
            log("POST", "order", coid, 429)
            return self.reply(429, {"code": 42910000, "message": "rate limit exceeded"},
                              [("X-RateLimit-Limit", "200"), ("X-RateLimit-Remaining", "0"),
                               ("X-RateLimit-Reset", str(int(rate_reset[0]) + 1))])
        if action == "drop":
            log("POST", "order", coid, "DROP")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if action == "slow":
            time.sleep(SLOW_S)   # logged once, when it answers (too late)
        if action == "hold":
            time.sleep(HOLD_S)
        with lock:
            obj = order_object(orders[coid])
        log("POST", "order", coid, 200)
        self.reply(200, obj)

class Server(ThreadingHTTPServer):
    request_queue_size = 256   # Kenny opens many connections at once after a restart
    def handle_error(self, request, client_address):
        pass   # a client that hung up (Kenny's timeout, a killed Kenny): expected here

server = Server(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
