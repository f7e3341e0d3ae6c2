#!/usr/bin/env python3
"""Read a journal directory's events (struct ark_event, event/event.h) and
print one JSON object per line: seq, trace_id, source, flags, symbol, side,
quantity, limit_price, exec_status, client_order_id, filled_quantity,
fill_price, position_after, report_fill_qty and report_fill_price (an
execution report's size and price), anomaly, hrm_book (the book HRM's
limits read: 1 confirmed fills plus orders in flight).
Only CRC-framed records of an event's size are read (the tests' own reader:
it shares nothing with store/)."""
import glob, json, os, struct, sys

EVENT = struct.Struct("<QQQdd16sIHH" "BBBBfdd" "BBHHHQddQ" "5Q5Q" "ddHBBI" "QIBBB9x")
assert EVENT.size == 256, EVENT.size

def events(journal_dir):
    for path in sorted(glob.glob(os.path.join(journal_dir, "*.arkj"))):
        data = open(path, "rb").read()
        off = 64
        while off + 32 <= len(data):
            magic, length, seq, trace, crc, flags = struct.unpack_from("<IIQQII", data, off)
            if magic != 0x524b5241 or off + 32 + length > len(data):
                break
            if length == 256:
                f = EVENT.unpack_from(data, off + 32)
                yield {"seq": f[0], "trace_id": f[1], "symbol": f[5].split(b"\0")[0].decode("utf-8", "replace"),
                       "source": f[7], "flags": f[8], "side": f[9], "quantity": f[14], "limit_price": f[15],
                       "exec_status": f[17], "client_order_id": f[21], "filled_quantity": f[22],
                       "fill_price": f[23], "position_after": f[35],
                       # a report has no market data: its price and size are the fill it adds
                       "report_fill_qty": f[4] if f[8] & 0x10 else 0, "report_fill_price": f[3] if f[8] & 0x10 else 0,
                       "anomaly": f[38], "hrm_book": f[45]}
            off += 32 + length

if __name__ == "__main__":
    for e in events(sys.argv[1]):
        print(json.dumps(e))
