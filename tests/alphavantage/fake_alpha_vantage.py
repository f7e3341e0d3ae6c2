#!/usr/bin/env python3
"""A fake Alpha Vantage for the tests: GET /query?function=GLOBAL_QUOTE
&symbol=S&apikey=K answered with the documented bodies, all with HTTP 200
as the real service does, by symbol:
  AAPL  a "Global Quote"                 MSFT  "Global Quote - DATA DELAYED"
  NOPE  {"Global Quote": {}}             BADX  {"Error Message": ...}
  SLOW  answers after 3 s                DROP  closes the connection unanswered
  FIVE  HTTP 503
and, for the 6th call overall, {"Note": ...} then for the 12th {"Information": ...}
(the two rate-limit answers). A wrong apikey gets an "Error Message".
Each request is logged as "<monotonic> <symbol> <answer>" to LOG.
Usage: fake_alpha_vantage.py PORTFILE LOG APIKEY"""
import json, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

portfile, logfile, apikey = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
calls = [0]

def quote(symbol, price, volume):
    return {"01. symbol": symbol, "02. open": "%.4f" % (price - 1), "03. high": "%.4f" % (price + 2),
            "04. low": "%.4f" % (price - 2), "05. price": "%.4f" % price, "06. volume": str(volume),
            "07. latest trading day": "2026-11-27", "08. previous close": "%.4f" % (price - 0.5),
            "09. change": "0.5000", "10. change percent": "0.2734%"}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def reply(self, status, obj):
        body = json.dumps(obj, indent=4).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the client gave up (a timed-out SLOW answer)
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        symbol = q.get("symbol", [""])[0]
        with lock:
            calls[0] += 1
            n = calls[0]
        answer = symbol
        if q.get("function", [""])[0] != "GLOBAL_QUOTE" or q.get("apikey", [""])[0] != apikey:
            answer = "badcall"
        elif n == 6:
            answer = "note"
        elif n == 12:
            answer = "information"
        with open(logfile, "a") as f:
            f.write("%.3f %s %s\n" % (time.monotonic(), symbol, answer))
        if answer == "badcall":
            return self.reply(200, {"Error Message": "the parameter apikey is invalid or missing."})
        if answer == "note":
            return self.reply(200, {"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day."})
        if answer == "information":
            return self.reply(200, {"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day."})
        if symbol == "AAPL":
            return self.reply(200, {"Global Quote": quote("AAPL", 187.25, 51234567)})
        if symbol == "MSFT":
            return self.reply(200, {"Global Quote - DATA DELAYED": quote("MSFT", 402.5, 2200000)})
        if symbol == "NOPE":
            return self.reply(200, {"Global Quote": {}})
        if symbol == "BADX":
            return self.reply(200, {"Error Message": "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for GLOBAL_QUOTE."})
        if symbol == "SLOW":
            time.sleep(3)
            return self.reply(200, {"Global Quote": quote("SLOW", 10.0, 1)})
        if symbol == "DROP":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if symbol == "FIVE":
            return self.reply(503, {"error": "upstream unavailable"})
        return self.reply(200, {"Global Quote": {}})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(portfile, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
