# Formats instants as the seed server does, for comparison with the Go
# formatter. Reads {"formats": [...], "instants": [...]} as JSON on stdin
# and writes one list per instant, one entry per format: what
# time.strftime(format, time.localtime(instant)) returns, or null where it
# raises. The time zone comes from TZ.
import json
import sys
import time

req = json.load(sys.stdin)
out = []
for secs in req["instants"]:
    tm = time.localtime(secs)
    row = []
    for fmt in req["formats"]:
        try:
            row.append(time.strftime(fmt, tm))
        except ValueError:
            row.append(None)
    out.append(row)
json.dump(out, sys.stdout, ensure_ascii=True)
